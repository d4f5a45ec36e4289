// A Java-client member of a KIP-848 consumer group (group.protocol=consumer) for
// tests/group/test_consumer_group_clients.py, run as a single-file program:
//   java -cp 'kafka-libs/*' ConsumerProtocolProbe.java BOOTSTRAP GROUP TOPIC [ASSIGNOR]
// Prints "ASSIGNED p,p,..." whenever its assignment changes and "CONSUMED n" as records
// arrive; reading "stop" on stdin makes it commit what it consumed (commitSync), close (a
// heartbeat with member epoch -1) and print "CLOSED".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class ConsumerProtocolProbe {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[1]);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        if (args.length > 3) props.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, args[3]);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.trim().equals("stop")) break;
                }
            } catch (Exception e) {
                // stdin closed: stop as well
            }
            stop.set(true);
        });
        reader.setDaemon(true);
        reader.start();
        long consumed = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[2]));
            String last = null;
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (!records.isEmpty()) {
                    consumed += records.count();
                    System.out.println("CONSUMED " + consumed);
                }
                Set<Integer> parts = new TreeSet<>();
                for (TopicPartition tp : consumer.assignment()) parts.add(tp.partition());
                String now = parts.toString().replaceAll("[\\[\\] ]", "");
                if (!now.equals(last)) {
                    System.out.println("ASSIGNED " + now);
                    last = now;
                }
                System.out.flush();
            }
            consumer.commitSync();
            System.out.println("COMMITTED");
        }
        System.out.println("CLOSED");
        System.out.flush();
    }
}
