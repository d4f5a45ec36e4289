import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.common.TopicPartitionReplica;

/** The Java AdminClient's log-dir and feature calls: args bootstrap, topic, target log dir.
 *  Prints one line per step: "dir <path>", "features <transaction.version level>". */
public class AdminTool {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            int broker = admin.describeCluster().nodes().get().iterator().next().id();
            TopicPartitionReplica replica = new TopicPartitionReplica(args[1], 0, broker);
            admin.alterReplicaLogDirs(Map.of(replica, args[2])).all().get();
            System.out.println("dir " + admin.describeReplicaLogDirs(List.of(replica)).all().get()
                .get(replica).getCurrentReplicaLogDir());
            System.out.println("features " + tv(admin));
            update(admin, 1, FeatureUpdate.UpgradeType.SAFE_DOWNGRADE);
            System.out.println("features " + tv(admin));
            update(admin, 2, FeatureUpdate.UpgradeType.UPGRADE);
            System.out.println("features " + tv(admin));
        }
    }

    static void update(Admin admin, int level, FeatureUpdate.UpgradeType type) throws Exception {
        FeatureUpdate update = new FeatureUpdate((short) level, type);
        admin.updateFeatures(Map.of("transaction.version", update), new UpdateFeaturesOptions())
            .all().get();
    }

    static short tv(Admin admin) throws Exception {
        for (int i = 0; i < 100; i++) {  // brokers learn the level from the metadata log
            var features = admin.describeFeatures().featureMetadata().get().finalizedFeatures();
            var range = features.get("transaction.version");
            if (range != null) return range.maxVersionLevel();
            Thread.sleep(50);
        }
        return -1;
    }
}
