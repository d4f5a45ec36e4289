// DescribeConfigs through Apache Kafka's Java AdminClient (with synonyms and documentation):
// prints one line per entry, tab-separated: resource, name, type, source, read-only, sensitive,
// value, synonym sources (comma-separated) and whether documentation is present.
// Usage: java -cp 'libs/*' DescribeConfigsProbe.java BOOTSTRAP TOPIC BROKER_ID

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.common.config.ConfigResource;

public class DescribeConfigsProbe {
    public static void main(String[] args) throws Exception {
        var topic = new ConfigResource(ConfigResource.Type.TOPIC, args[1]);
        var broker = new ConfigResource(ConfigResource.Type.BROKER, args[2]);
        var options = new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(true);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]))) {
            Map<ConfigResource, Config> all = admin.describeConfigs(List.of(topic, broker), options).all().get();
            for (var resource : List.of(topic, broker)) {
                for (ConfigEntry e : all.get(resource).entries()) {
                    String synonyms = e.synonyms().stream()
                        .map(s -> s.name() + "=" + s.source())
                        .collect(Collectors.joining(","));
                    System.out.println(String.join("\t", resource.type().name(), e.name(),
                        e.type().name(), e.source().name(), String.valueOf(e.isReadOnly()),
                        String.valueOf(e.isSensitive()), String.valueOf(e.value()), synonyms,
                        String.valueOf(e.documentation() != null && !e.documentation().isEmpty())));
                }
            }
        }
    }
}
