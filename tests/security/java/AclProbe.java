// Kafka's Java AdminClient against a broker with the StandardAuthorizer: create two ACLs,
// describe them, delete one with a MATCH filter, describe again. One line per step.
// Run: java -cp 'libs/*' AclProbe.java HOST:PORT

import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

public class AclProbe {
    static String show(java.util.Collection<AclBinding> acls) {
        return acls.stream().map(a -> a.pattern().name() + "/" + a.pattern().patternType()
                + "/" + a.entry().principal() + "/" + a.entry().operation()
                + "/" + a.entry().permissionType()).sorted().collect(Collectors.joining(","));
    }

    // ACLs reach the broker through the metadata log: ask until ``count`` are described.
    static String describe(Admin admin, int count) throws Exception {
        String found = "";
        for (int i = 0; i < 150; i++) {
            java.util.Collection<AclBinding> acls = admin.describeAcls(AclBindingFilter.ANY).values().get();
            found = show(acls);
            if (acls.size() == count) break;
            Thread.sleep(100);
        }
        return found;
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            AclBinding read = new AclBinding(
                new ResourcePattern(ResourceType.TOPIC, "orders-", PatternType.PREFIXED),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
            AclBinding deny = new AclBinding(
                new ResourcePattern(ResourceType.GROUP, "audit", PatternType.LITERAL),
                new AccessControlEntry("User:bob", "*", AclOperation.ALL, AclPermissionType.DENY));
            admin.createAcls(List.of(read, deny)).all().get();
            System.out.println("described " + describe(admin, 2));
            AclBindingFilter match = new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, "orders-eu", PatternType.MATCH),
                AccessControlEntryFilter.ANY);
            System.out.println("deleted " + show(admin.deleteAcls(List.of(match)).all().get()));
            System.out.println("left " + describe(admin, 1));
        }
    }
}
