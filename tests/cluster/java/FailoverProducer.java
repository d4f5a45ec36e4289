// Apache Kafka's Java client producing while the test kills brokers: acks=all, idempotent
// (the Java defaults), value i to partition i % PARTITIONS, at most WINDOW unanswered at once.
// Prints "sent VALUE" once send() took a record, "ack VALUE PARTITION OFFSET" or
// "fail VALUE ERROR" per record as answers arrive, and "done" once every record is answered.
// Usage: java -cp 'libs/*' FailoverProducer.java BOOTSTRAP TOPIC PARTITIONS COUNT WINDOW
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FailoverProducer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        int partitions = Integer.parseInt(args[2]), count = Integer.parseInt(args[3]);
        int windowSize = Integer.parseInt(args[4]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "2");
        p.put("delivery.timeout.ms", "30000");
        p.put("request.timeout.ms", "5000");
        p.put("retry.backoff.ms", "50");
        p.put("retry.backoff.max.ms", "200");
        p.put("reconnect.backoff.ms", "50");
        p.put("reconnect.backoff.max.ms", "200");
        p.put("metadata.max.age.ms", "1000");
        Semaphore window = new Semaphore(windowSize);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                final int value = i;
                window.acquire();
                byte[] bytes = Integer.toString(i).getBytes(StandardCharsets.UTF_8);
                ProducerRecord<byte[], byte[]> record =
                        new ProducerRecord<>(topic, i % partitions, null, bytes);
                synchronized (System.out) {
                    System.out.println("sent " + value);
                }
                producer.send(record, (m, e) -> {
                    synchronized (System.out) {
                        if (e == null) {
                            System.out.println("ack " + value + " " + m.partition() + " " + m.offset());
                        } else {
                            System.out.println("fail " + value + " " + e.getClass().getSimpleName());
                        }
                        System.out.flush();
                    }
                    window.release();
                });
                Thread.sleep(1);
            }
            producer.flush();
        }
        System.out.println("done");
    }
}
