// Apache Kafka's Java client authenticates (SASL, e.g. SCRAM-SHA-512), produces COUNT records
// and reads them back from the beginning. Client settings come as key=value arguments.
// Prints "consumed N"; on an authentication failure prints "authentication failed: MESSAGE"
// and exits with status 3.
// Usage: java -cp 'libs/*' ScramRoundTrip.java BOOTSTRAP TOPIC COUNT key=value...
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ScramRoundTrip {
    public static void main(String[] args) throws Exception {
        String topic = args[1];
        int count = Integer.parseInt(args[2]);
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("max.block.ms", "20000");
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            p.put(kv[0], kv[1]);
        }
        try {
            run(p, topic, count);
        } catch (Exception e) {
            Throwable cause = e;
            while (cause != null && !(cause instanceof SaslAuthenticationException)) {
                cause = cause.getCause();
            }
            if (cause == null) throw e;
            System.out.println("authentication failed: " + cause.getMessage());
            System.exit(3);
        }
    }

    static void run(Properties p, String topic, int count) throws Exception {
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get();
            }
        }
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            int seen = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (seen < count && System.currentTimeMillis() < deadline) {
                seen += consumer.poll(Duration.ofMillis(500)).count();
            }
            System.out.println("consumed " + seen);
        }
    }
}
