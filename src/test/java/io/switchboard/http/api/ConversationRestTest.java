package io.switchboard.http.api;

import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import static io.switchboard.testing.Api.assertError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

/** SPEC §3 conversations over REST: direct and group conversations, joining, leaving, the list view. */
class ConversationRestTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(TestNodes.port(TestNodes.shared()));
  }

  @Test
  @DisplayName("a new user's conversation list is empty")
  void emptyList() {
    HttpResponse<Buffer> r = api.get("/api/conversations", api.token(Api.user("newcomer")));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    assertThat(r.bodyAsJsonObject().getJsonArray("conversations")).isEmpty();
  }

  @Test
  @DisplayName("creating a direct conversation returns it with both users as members and no invite code")
  void createDirect() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    HttpResponse<Buffer> r = createDirect(api.token(alice), bob);

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    JsonObject c = r.bodyAsJsonObject();
    assertThat(UUID.fromString(c.getString("id"))).isNotNull();
    assertThat(c.getString("type")).isEqualTo("direct");
    assertThat(c.containsKey("inviteCode")).isFalse();
    assertThat(roles(c)).containsOnly(entry(alice, "member"), entry(bob, "member"));
    assertThat(c.getLong("lastSeq")).isZero();
    assertThat(c.getLong("lastReadSeq")).isZero();
    assertThat(c.getLong("unreadCount")).isZero();
    assertThat(Instant.parse(c.getString("createdAt"))).isBefore(Instant.now().plusSeconds(5));
  }

  @Test
  @DisplayName("creating a direct conversation twice, from either side, returns the same conversation")
  void directIsOnePerPair() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);

    String first = createDirect(aliceToken, bob).bodyAsJsonObject().getString("id");
    HttpResponse<Buffer> again = createDirect(aliceToken, bob);
    HttpResponse<Buffer> fromBob = createDirect(bobToken, alice);
    // Listing the caller among the participants changes nothing either.
    HttpResponse<Buffer> withSelf = api.post("/api/conversations", bobToken,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(bob).add(alice)));

    assertThat(again.statusCode()).as(again.bodyAsString()).isBetween(200, 201);
    assertThat(fromBob.statusCode()).as(fromBob.bodyAsString()).isBetween(200, 201);
    assertThat(withSelf.statusCode()).as(withSelf.bodyAsString()).isBetween(200, 201);
    assertThat(again.bodyAsJsonObject().getString("id")).isEqualTo(first);
    assertThat(fromBob.bodyAsJsonObject().getString("id")).isEqualTo(first);
    assertThat(withSelf.bodyAsJsonObject().getString("id")).isEqualTo(first);
    assertThat(conversationIds(aliceToken)).containsExactly(first);
    assertThat(conversationIds(bobToken)).containsExactly(first);
  }

  @Test
  @DisplayName("a direct conversation with no other participant or with two others is invalid_request")
  void directNeedsExactlyOneOther() {
    String alice = Api.user("alice");
    String token = api.token(alice);
    assertError(api.post("/api/conversations", token, new JsonObject().put("type", "direct")),
      400, "invalid_request");
    assertError(api.post("/api/conversations", token,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray())), 400, "invalid_request");
    assertError(api.post("/api/conversations", token,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(alice))),
      400, "invalid_request");
    assertError(api.post("/api/conversations", token, new JsonObject().put("type", "direct")
      .put("participantIds", new JsonArray().add(Api.user("bob")).add(Api.user("carol")))), 400, "invalid_request");
    assertThat(conversationIds(token)).isEmpty();
  }

  @Test
  @DisplayName("a group created with POST /api/groups has a name, an invite code and its creator as owner")
  void createGroup() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    HttpResponse<Buffer> r = api.post("/api/groups", api.token(alice),
      new JsonObject().put("name", "  Team  ").put("participantIds", new JsonArray().add(bob).add(carol).add(bob)));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    JsonObject g = r.bodyAsJsonObject();
    assertThat(g.getString("type")).isEqualTo("group");
    assertThat(g.getString("name")).isEqualTo("Team");
    assertThat(g.getString("inviteCode")).isNotBlank();
    assertThat(roles(g)).containsOnly(entry(alice, "owner"), entry(bob, "member"), entry(carol, "member"));
    assertThat(g.getJsonArray("members")).hasSize(3);
    assertThat(g.getLong("lastSeq")).isZero();
    assertThat(g.getLong("lastReadSeq")).isZero();
    assertThat(g.getLong("unreadCount")).isZero();
    assertThat(g.getString("createdAt")).isNotBlank();
  }

  @Test
  @DisplayName("a group can also be created with POST /api/conversations and type group, and each group gets its own invite code")
  void createGroupThroughConversations() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String token = api.token(alice);
    HttpResponse<Buffer> r = api.post("/api/conversations", token,
      new JsonObject().put("type", "group").put("name", "Book club").put("participantIds", new JsonArray().add(bob)));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    JsonObject g = r.bodyAsJsonObject();
    assertThat(g.getString("type")).isEqualTo("group");
    assertThat(g.getString("name")).isEqualTo("Book club");
    assertThat(roles(g)).containsOnly(entry(alice, "owner"), entry(bob, "member"));
    JsonObject another = api.group(token, "Book club");
    assertThat(another.getString("id")).isNotEqualTo(g.getString("id"));
    assertThat(another.getString("inviteCode")).isNotEqualTo(g.getString("inviteCode"));
  }

  @Test
  @DisplayName("a member who did not create a group sees it in their list and can get it by id, invite code included")
  void memberSeesGroup() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String bobToken = api.token(bob);
    JsonObject created = api.group(api.token(alice), "Visible", bob);

    HttpResponse<Buffer> one = api.get("/api/conversations/" + created.getString("id"), bobToken);
    assertThat(one.statusCode()).as(one.bodyAsString()).isEqualTo(200);
    JsonObject g = one.bodyAsJsonObject();
    assertThat(g.getString("id")).isEqualTo(created.getString("id"));
    assertThat(g.getString("name")).isEqualTo("Visible");
    assertThat(g.getString("inviteCode")).isEqualTo(created.getString("inviteCode"));
    assertThat(roles(g)).containsOnly(entry(alice, "owner"), entry(bob, "member"));
    assertThat(conversationIds(bobToken)).containsExactly(created.getString("id"));
  }

  @Test
  @DisplayName("joining by invite code adds a member and a member_joined system message at the next seq")
  void joinByInviteCode() {
    String alice = Api.user("alice");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String carolToken = api.token(carol);
    JsonObject group = api.group(aliceToken, "Open");
    String id = group.getString("id");
    api.send(aliceToken, id, "one");
    api.send(aliceToken, id, "two");

    HttpResponse<Buffer> r = join(carolToken, group.getString("inviteCode"));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonObject joined = r.bodyAsJsonObject();
    assertThat(joined.getString("id")).isEqualTo(id);
    assertThat(roles(joined)).containsOnly(entry(alice, "owner"), entry(carol, "member"));
    assertThat(joined.getLong("lastSeq")).isEqualTo(3L);
    JsonObject system = history(aliceToken, id).getJsonObject(2);
    assertThat(system.getLong("seq")).isEqualTo(3L);
    assertThat(system.getString("kind")).isEqualTo("system");
    assertThat(system.getString("senderId")).isEqualTo(carol);
    assertThat(system.getJsonObject("content"))
      .isEqualTo(new JsonObject().put("event", "member_joined").put("userId", carol));
    assertThat(history(carolToken, id)).hasSize(3);
    assertThat(conversationIds(carolToken)).containsExactly(id);
  }

  @Test
  @DisplayName("joining a group twice changes nothing the second time: no second member_joined")
  void joinTwiceIsIdempotent() {
    String alice = Api.user("alice");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String carolToken = api.token(carol);
    JsonObject group = api.group(aliceToken, "Twice");
    String id = group.getString("id");

    assertThat(join(carolToken, group.getString("inviteCode")).statusCode()).isEqualTo(200);
    HttpResponse<Buffer> again = join(carolToken, group.getString("inviteCode"));
    // The owner using their own group's code is a member already, too.
    HttpResponse<Buffer> owner = join(aliceToken, group.getString("inviteCode"));

    assertThat(again.statusCode()).as(again.bodyAsString()).isEqualTo(200);
    assertThat(again.bodyAsJsonObject().getString("id")).isEqualTo(id);
    assertThat(again.bodyAsJsonObject().getLong("lastSeq")).isEqualTo(1L);
    assertThat(owner.statusCode()).as(owner.bodyAsString()).isEqualTo(200);
    assertThat(roles(owner.bodyAsJsonObject())).containsOnly(entry(alice, "owner"), entry(carol, "member"));
    JsonArray messages = history(aliceToken, id);
    assertThat(messages).hasSize(1);
    assertThat(messages.getJsonObject(0).getJsonObject("content").getString("event")).isEqualTo("member_joined");
  }

  @Test
  @DisplayName("leaving a group adds a member_left system message, and from then on the leaver is forbidden")
  void leaveGroup() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Leavers", bob).getString("id");
    api.send(bobToken, id, "bye all");

    HttpResponse<Buffer> r = api.post("/api/conversations/" + id + "/leave", bobToken, null);

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.bodyAsJsonObject().getString("conversationId")).isEqualTo(id);
    assertThat(r.bodyAsJsonObject().getLong("seq")).isEqualTo(2L);
    JsonObject system = history(aliceToken, id).getJsonObject(1);
    assertThat(system.getLong("seq")).isEqualTo(2L);
    assertThat(system.getString("kind")).isEqualTo("system");
    assertThat(system.getString("senderId")).isEqualTo(bob);
    assertThat(system.getJsonObject("content")).isEqualTo(new JsonObject().put("event", "member_left").put("userId", bob));
    assertThat(roles(api.get("/api/conversations/" + id, aliceToken).bodyAsJsonObject()))
      .containsOnly(entry(alice, "owner"));

    assertError(api.get("/api/conversations/" + id, bobToken), 403, "forbidden");
    assertError(api.get("/api/conversations/" + id + "/messages", bobToken), 403, "forbidden");
    assertError(api.post("/api/conversations/" + id + "/messages", bobToken, new JsonObject().put("content", "hi")),
      403, "forbidden");
    assertError(api.post("/api/conversations/" + id + "/read", bobToken, new JsonObject().put("seq", 2)),
      403, "forbidden");
    assertError(api.post("/api/conversations/" + id + "/leave", bobToken, null), 403, "forbidden");
    assertThat(conversationIds(bobToken)).isEmpty();
    assertThat(history(aliceToken, id)).hasSize(2);
  }

  @Test
  @DisplayName("a member who left can join again with the invite code, which is a new member_joined")
  void rejoinAfterLeaving() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    JsonObject group = api.group(aliceToken, "Revolving door", bob);
    String id = group.getString("id");
    api.post("/api/conversations/" + id + "/leave", bobToken, null);

    HttpResponse<Buffer> r = join(bobToken, group.getString("inviteCode"));

    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(roles(r.bodyAsJsonObject())).containsOnly(entry(alice, "owner"), entry(bob, "member"));
    assertThat(history(aliceToken, id).stream().map(m -> ((JsonObject) m).getJsonObject("content").getString("event")))
      .containsExactly("member_left", "member_joined");
  }

  @Test
  @DisplayName("the last owner cannot leave while others stay (SPEC §3b); after handing over, they can")
  void ownerLeaving() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Succession", bob).getString("id");

    assertError(api.post("/api/conversations/" + id + "/leave", aliceToken, null), 409, "conflict");
    assertThat(api.request(io.vertx.core.http.HttpMethod.PUT, "/api/conversations/" + id + "/members/" + bob, aliceToken,
      new JsonObject().put("role", "owner")).statusCode()).isEqualTo(200);
    assertThat(api.post("/api/conversations/" + id + "/leave", aliceToken, null).statusCode()).isEqualTo(200);

    assertThat(roles(api.get("/api/conversations/" + id, bobToken).bodyAsJsonObject())).containsOnly(entry(bob, "owner"));
  }

  @Test
  @DisplayName("a direct conversation cannot be left: invalid_request, and both stay members")
  void leaveDirect() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String id = createDirect(aliceToken, bob).bodyAsJsonObject().getString("id");

    assertError(api.post("/api/conversations/" + id + "/leave", aliceToken, null), 400, "invalid_request");

    JsonObject c = api.get("/api/conversations/" + id, aliceToken).bodyAsJsonObject();
    assertThat(roles(c)).containsOnlyKeys(alice, bob);
    assertThat(c.getLong("lastSeq")).isZero();
  }

  @Test
  @DisplayName("the list shows lastSeq, lastReadSeq and unreadCount per member: a sender's own messages are not unread")
  void listCountsForSenderAndReader() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = createDirect(aliceToken, bob).bodyAsJsonObject().getString("id");
    api.send(aliceToken, id, "1");
    api.send(aliceToken, id, "2");
    api.send(aliceToken, id, "3");

    assertThat(listed(aliceToken, id)).containsExactlyInAnyOrderEntriesOf(counts(3, 3, 0));
    assertThat(listed(bobToken, id)).containsExactlyInAnyOrderEntriesOf(counts(3, 0, 3));

    // Bob reads up to 2, then answers; answering reads everything before it.
    api.post("/api/conversations/" + id + "/read", bobToken, new JsonObject().put("seq", 2));
    assertThat(listed(bobToken, id)).containsExactlyInAnyOrderEntriesOf(counts(3, 2, 1));
    api.send(bobToken, id, "4");

    assertThat(listed(aliceToken, id)).containsExactlyInAnyOrderEntriesOf(counts(4, 3, 1));
    assertThat(listed(bobToken, id)).containsExactlyInAnyOrderEntriesOf(counts(4, 4, 0));
    JsonObject one = api.get("/api/conversations/" + id, aliceToken).bodyAsJsonObject();
    assertThat(one.getLong("unreadCount")).isEqualTo(1L);
    assertThat(one.getLong("lastReadSeq")).isEqualTo(3L);
  }

  @Test
  @DisplayName("system messages count in lastSeq but are never unread")
  void systemMessagesAreNotUnread() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String carol = Api.user("carol");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String carolToken = api.token(carol);
    JsonObject group = api.group(aliceToken, "Quiet", bob);
    String id = group.getString("id");

    join(carolToken, group.getString("inviteCode"));
    assertThat(listed(aliceToken, id)).containsExactlyInAnyOrderEntriesOf(counts(1, 0, 0));
    assertThat(listed(bobToken, id)).containsExactlyInAnyOrderEntriesOf(counts(1, 0, 0));
    assertThat(listed(carolToken, id)).containsExactlyInAnyOrderEntriesOf(counts(1, 1, 0));

    api.send(bobToken, id, "welcome carol");
    api.post("/api/conversations/" + id + "/leave", carolToken, null);

    assertThat(listed(aliceToken, id)).containsExactlyInAnyOrderEntriesOf(counts(3, 0, 1));
    assertThat(listed(bobToken, id)).containsExactlyInAnyOrderEntriesOf(counts(3, 2, 0));
  }

  @Test
  @DisplayName("the list holds every conversation of the user and only those")
  void listHoldsOnlyOwnConversations() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String direct = createDirect(aliceToken, bob).bodyAsJsonObject().getString("id");
    String group = api.group(aliceToken, "Mine").getString("id");
    api.group(api.token(bob), "Bob's own");

    assertThat(conversationIds(aliceToken)).containsExactlyInAnyOrder(direct, group);
  }

  private static HttpResponse<Buffer> createDirect(String token, String other) {
    return api.post("/api/conversations", token,
      new JsonObject().put("type", "direct").put("participantIds", new JsonArray().add(other)));
  }

  private static HttpResponse<Buffer> join(String token, String inviteCode) {
    return api.post("/api/groups/join", token, new JsonObject().put("inviteCode", inviteCode));
  }

  private static JsonArray history(String token, String id) {
    HttpResponse<Buffer> r = api.get("/api/conversations/" + id + "/messages", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("messages");
  }

  private static List<String> conversationIds(String token) {
    HttpResponse<Buffer> r = api.get("/api/conversations", token);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return r.bodyAsJsonObject().getJsonArray("conversations").stream()
      .map(c -> ((JsonObject) c).getString("id"))
      .toList();
  }

  /** The counters of one conversation as the list shows it to {@code token}'s user. */
  private static Map<String, Long> listed(String token, String id) {
    HttpResponse<Buffer> r = api.get("/api/conversations", token);
    JsonObject c = r.bodyAsJsonObject().getJsonArray("conversations").stream()
      .map(JsonObject.class::cast)
      .filter(x -> x.getString("id").equals(id))
      .findFirst()
      .orElseThrow(() -> new AssertionError("conversation " + id + " not listed: " + r.bodyAsString()));
    return counts(c.getLong("lastSeq"), c.getLong("lastReadSeq"), c.getLong("unreadCount"));
  }

  private static Map<String, Long> counts(long lastSeq, long lastReadSeq, long unreadCount) {
    return Map.of("lastSeq", lastSeq, "lastReadSeq", lastReadSeq, "unreadCount", unreadCount);
  }

  private static Map<String, String> roles(JsonObject conversation) {
    return conversation.getJsonArray("members").stream()
      .map(JsonObject.class::cast)
      .collect(Collectors.toMap(m -> m.getString("userId"), m -> m.getString("role")));
  }
}
