package io.switchboard.bridge;

import io.switchboard.protocol.Addresses;
import io.switchboard.testing.Api;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static io.switchboard.bridge.FrameClient.command;
import static io.switchboard.bridge.FrameClient.registerFrame;
import static io.switchboard.bridge.FrameClient.sendFrame;
import static io.switchboard.bridge.FrameClient.token;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §3b over the TCP event-bus bridge: every new command is forwarded and answered on its replyAddress. */
class BridgeChatFeaturesTest {

  static Api api;

  @BeforeAll
  static void node() {
    api = new Api(BridgeNode.httpPort());
  }

  @Test
  @DisplayName("every SPEC §3b command sent on the bridge gets its reply; a registered member receives the durable events")
  void everyCommand() {
    String alice = Api.user("alice");
    String bob = Api.user("bob");
    String aliceToken = api.token(alice);
    String bobToken = api.token(bob);
    String id = api.group(aliceToken, "Bridge 3b", bob).getString("id");
    String mid = api.send(aliceToken, id, "over the bridge").getString("id");
    JsonObject ref = new JsonObject().put("conversationId", id).put("messageId", mid);
    Map<String, JsonObject> commands = new LinkedHashMap<>();
    commands.put("edit_message", ref.copy().put("content", "edited over the bridge"));
    commands.put("react", ref.copy().put("emoji", "👍").put("on", true));
    commands.put("load_thread", new JsonObject().put("conversationId", id).put("threadId", mid));
    commands.put("search_messages", new JsonObject().put("q", "bridge"));
    commands.put("set_status", new JsonObject().put("status", "busy"));
    commands.put("get_presence", new JsonObject().put("userIds", new JsonArray().add(bob)));
    commands.put("get_conversation_presence", new JsonObject().put("conversationId", id));
    commands.put("update_conversation", new JsonObject().put("conversationId", id).put("name", "Renamed"));
    commands.put("set_role", new JsonObject().put("conversationId", id).put("userId", bob).put("role", "admin"));
    commands.put("rotate_invite", new JsonObject().put("conversationId", id));
    commands.put("mute", new JsonObject().put("conversationId", id).put("muted", true));
    commands.put("delete_message", ref.copy());
    commands.put("remove_member", new JsonObject().put("conversationId", id).put("userId", bob));
    Map<String, String> replies = Map.ofEntries(Map.entry("edit_message", "message_edited"),
      Map.entry("react", "reaction_updated"), Map.entry("load_thread", "messages_loaded"),
      Map.entry("search_messages", "search_results"), Map.entry("set_status", "ack"),
      Map.entry("get_presence", "presence"), Map.entry("get_conversation_presence", "conversation_presence"),
      Map.entry("update_conversation", "conversation_updated"), Map.entry("set_role", "ack"),
      Map.entry("rotate_invite", "ack"), Map.entry("mute", "ack"), Map.entry("delete_message", "message_deleted"),
      Map.entry("remove_member", "ack"));

    try (FrameClient member = FrameClient.tcp(BridgeNode.tcpPort());
         FrameClient owner = FrameClient.tcp(BridgeNode.tcpPort())) {
      member.send(registerFrame(Addresses.user(bob), token(bobToken)));
      member.event(bob, "connected");
      int n = 0;
      for (Map.Entry<String, JsonObject> c : commands.entrySet()) {
        String replyAddress = "reply-" + (++n);
        owner.send(sendFrame(Addresses.BRIDGE_COMMANDS, command(c.getKey(), c.getValue(), "r-" + n), replyAddress,
          token(aliceToken)));
        JsonObject reply = owner.next(f -> replyAddress.equals(f.getString("address"))).getJsonObject("body");
        assertThat(reply.getString("type")).as(c.getKey() + " " + reply.encode()).isEqualTo(replies.get(c.getKey()));
      }
      for (String event : new String[] {"message_edited", "reaction_updated", "conversation_updated",
        "conversation_updated", "message_deleted", "member_left"}) {
        JsonObject frame = member.event(bob, event);
        assertThat(frame.getJsonObject("headers").getString("cursor")).as(event).isNotBlank();
      }
    }
  }
}
