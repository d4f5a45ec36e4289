// Apache Kafka's own Java client against a broker: produce with idempotence (the Java default)
// in one codec, then read everything back from the beginning and print one line per record.
// Usage: java -cp 'libs/*' RoundTrip.java BOOTSTRAP TOPIC CODEC COUNT
// With KAFKA_CLIENT_PROPERTIES=FILE in the environment, both clients also get FILE's properties
// (security.protocol=SSL, ssl.truststore.* ...).
import java.io.FileReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class RoundTrip {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], codec = args[2];
        int count = Integer.parseInt(args[3]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("compression.type", codec);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        Properties extra = new Properties();
        String extraFile = System.getenv("KAFKA_CLIENT_PROPERTIES");
        if (extraFile != null) {
            try (FileReader reader = new FileReader(extraFile)) { extra.load(reader); }
        }
        p.putAll(extra);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                        topic, i % 3, 1_700_000_000_000L + i, bytes("k" + i), bytes("v" + i));
                record.headers().add("h", bytes("x" + i));
                producer.send(record).get();
            }
        }
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("enable.auto.commit", "false");
        c.putAll(extra);
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int i = 0; i < 3; i++) partitions.add(new TopicPartition(topic, i));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            int seen = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (seen < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    Header h = r.headers().lastHeader("h");
                    System.out.println(r.partition() + " " + r.offset() + " " + r.timestamp() + " "
                            + text(r.key()) + " " + text(r.value()) + " " + text(h.value()));
                    seen++;
                }
            }
        }
    }

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String text(byte[] b) { return new String(b, StandardCharsets.UTF_8); }
}
