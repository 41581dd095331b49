package io.switchboard.cluster;

import io.switchboard.Node;
import io.switchboard.protocol.Addresses;
import io.switchboard.protocol.Events;
import io.switchboard.protocol.Types;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.switchboard.testing.TestNodes.TestCluster;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.EnumSet;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Commands cross the cluster (DESIGN §1-§2): node 1 runs only the HTTP role, node 2 only the
 * service verticles, so every REST command taken by node 1 is answered on node 2, and every event
 * node 2 publishes must reach node 1's event bus. The last test stops node 2.
 */
@ExtendWith(VertxExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterCommandTest {

  /** Well under CommandClient's 15 s request timeout: a missing service must not look like a slow one. */
  private static final Duration FAIL_FAST = Duration.ofSeconds(5);

  static Node httpNode;
  static Node servicesNode;
  static Api api;

  @BeforeAll
  static void cluster() {
    TestCluster cluster = TestCluster.create();
    httpNode = cluster.start(new JsonObject(), EnumSet.of(Node.Role.HTTP));
    servicesNode = cluster.start(new JsonObject(), EnumSet.of(Node.Role.SERVICES));
    api = new Api(TestNodes.port(httpNode));
  }

  @AfterAll
  static void stop() {
    if (servicesNode != null) {
      await(servicesNode.stop());
    }
    if (httpNode != null) {
      await(httpNode.stop());
    }
  }

  @Test
  @Order(1)
  @DisplayName("the HTTP-only node and the services-only node see one cluster of two")
  void clusterOfTwo() {
    HttpResponse<Buffer> health = api.get("/api/health", null);
    assertThat(health.statusCode()).as(health.bodyAsString()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getString("node")).isEqualTo(httpNode.nodeId());
    assertThat(health.bodyAsJsonObject().getInteger("clusterSize")).isEqualTo(2);
    // Node 2 has no HTTP port by construction; its view of the cluster is its cluster manager's.
    assertThat(servicesNode.context().clusterManager().getNodes())
      .containsExactlyInAnyOrder(httpNode.nodeId(), servicesNode.nodeId());
  }

  @Test
  @Order(2)
  @DisplayName("the command consumers live on the services node only, none on the HTTP node")
  void consumersOnlyOnServicesNode(VertxTestContext ctx) {
    Checkpoint noneOnHttpNode = ctx.checkpoint();
    Checkpoint oneOnServicesNode = ctx.checkpoint();
    DeliveryOptions localOnly = new DeliveryOptions().setLocalOnly(true).setSendTimeout(5000);
    String address = Addresses.command(Types.CREATE_GROUP);

    httpNode.vertx().eventBus().request(address, new JsonObject(), localOnly)
      .onComplete(ctx.failing(t -> ctx.verify(() -> {
        assertThat(t).isInstanceOf(ReplyException.class);
        assertThat(((ReplyException) t).failureType()).isEqualTo(ReplyFailure.NO_HANDLERS);
        noneOnHttpNode.flag();
      })));
    // A body without a principal is refused by the service itself: proof that it runs right there.
    servicesNode.vertx().eventBus().request(address, new JsonObject(), localOnly)
      .onComplete(ctx.failing(t -> ctx.verify(() -> {
        assertThat(t).isInstanceOf(ReplyException.class);
        assertThat(((ReplyException) t).failureType()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
        assertThat(((ReplyException) t).failureCode()).isEqualTo(401);
        oneOnServicesNode.flag();
      })));
  }

  @Test
  @Order(3)
  @DisplayName("a group created and a message posted through the HTTP-only node are committed by the services node")
  void restCommandsCrossTheCluster() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String token = api.token(alice);

    JsonObject group = api.group(token, "Cross-node", bob);
    assertThat(group.getString("id")).isNotBlank();
    assertThat(group.getJsonArray("members")).hasSize(2);

    JsonObject message = api.send(token, group.getString("id"), "over the bus");
    assertThat(message.getString("conversationId")).isEqualTo(group.getString("id"));
    assertThat(message.getLong("seq")).isEqualTo(group.getLong("lastSeq") + 1);
    assertThat(message.getString("senderId")).isEqualTo(alice);

    HttpResponse<Buffer> history = api.get("/api/conversations/" + group.getString("id") + "/messages", token);
    assertThat(history.statusCode()).as(history.bodyAsString()).isEqualTo(200);
    JsonArray messages = history.bodyAsJsonObject().getJsonArray("messages");
    assertThat(messages.getJsonObject(messages.size() - 1).getString("id")).isEqualTo(message.getString("id"));
  }

  @Test
  @Order(4)
  @DisplayName("conversation_created published on the services node reaches the HTTP node on the user address's shard")
  void conversationCreatedReachesHttpNode(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String token = api.token(alice);
    String name = "Announced " + Api.user("g");
    Checkpoint received = ctx.checkpoint();

    String address = Addresses.user(bob);
    MessageConsumer<JsonObject> consumer = httpNode.vertx().eventBus().consumer(Addresses.shard(Addresses.shardOf(address)), msg -> {
      if (!address.equals(msg.body().getString(Events.TO))) {
        return;
      }
      ctx.verify(() -> {
        JsonObject envelope = msg.body();
        assertEnvelope(envelope, Types.CONVERSATION_CREATED);
        JsonObject payload = envelope.getJsonObject("payload");
        assertThat(payload.getString("name")).isEqualTo(name);
        assertThat(payload.getString("conversationId")).isNotBlank().isEqualTo(payload.getString("id"));
        assertThat(payload.getLong("seq")).isNotNull().isEqualTo(payload.getLong("lastSeq"));
        received.flag();
      });
    });
    await(consumer.completion());

    api.group(token, name, bob);
  }

  @Test
  @Order(5)
  @DisplayName("message_received published on the services node reaches the HTTP node on the conversation's shard")
  void messageReceivedReachesHttpNode(VertxTestContext ctx) {
    String alice = Api.user("alice");
    String token = api.token(alice);
    JsonObject group = api.group(token, "Room");
    String conversationId = group.getString("id");
    long expectedSeq = group.getLong("lastSeq") + 1;
    Checkpoint received = ctx.checkpoint();

    String address = Addresses.conversation(conversationId);
    MessageConsumer<JsonObject> consumer = httpNode.vertx().eventBus().consumer(Addresses.shard(Addresses.shardOf(address)),
      msg -> ctx.verify(() -> {
        if (!address.equals(msg.body().getString(Events.TO))) {
          return;
        }
        JsonObject envelope = msg.body();
        assertEnvelope(envelope, Types.MESSAGE_RECEIVED);
        JsonObject payload = envelope.getJsonObject("payload");
        assertThat(payload.getString("conversationId")).isEqualTo(conversationId);
        assertThat(payload.getLong("seq")).isEqualTo(expectedSeq);
        assertThat(payload.getString("senderId")).isEqualTo(alice);
        assertThat(payload.getString("content")).isEqualTo("published on node 2");
        received.flag();
      }));
    await(consumer.completion());

    api.send(token, conversationId, "published on node 2");
  }

  @Test
  @Order(6)
  @DisplayName("with the services node stopped, commands on the HTTP node fail fast with 503 unavailable")
  void servicesNodeGone() {
    String token = api.token(Api.user("alice"));
    JsonObject group = api.group(token, "Before the outage");

    await(servicesNode.stop());
    servicesNode = null;

    long start = System.nanoTime();
    HttpResponse<Buffer> send = api.post("/api/conversations/" + group.getString("id") + "/messages", token,
      new JsonObject().put("content", "nobody answers"));
    Duration sendTook = Duration.ofNanos(System.nanoTime() - start);
    Api.assertError(send, 503, "unavailable");
    assertThat(sendTook).isLessThan(FAIL_FAST);

    start = System.nanoTime();
    HttpResponse<Buffer> create = api.post("/api/groups", token, new JsonObject().put("name", "During the outage"));
    Duration createTook = Duration.ofNanos(System.nanoTime() - start);
    Api.assertError(create, 503, "unavailable");
    assertThat(createTook).isLessThan(FAIL_FAST);
  }

  private static void assertEnvelope(JsonObject envelope, String type) {
    // The logical address travels with the event (Events.TO); the gateway takes it out.
    assertThat(envelope.fieldNames()).containsExactlyInAnyOrder("type", "payload", "timestamp", Events.TO);
    assertThat(envelope.getString("type")).isEqualTo(type);
    assertThat(envelope.getValue("payload")).isInstanceOf(JsonObject.class);
    assertThat(envelope.getString("timestamp")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
  }
}
