package io.switchboard.http.api;

import io.switchboard.Node;
import io.switchboard.http.HttpVerticle;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.openapi.contract.OpenAPIContract;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import static io.switchboard.testing.TestNodes.await;
import static org.assertj.core.api.Assertions.assertThat;

/** SPEC §10: {@code GET /api/openapi.json} describes every route of the HTTP port, and nothing else. */
class OpenApiTest {

  static Node node;
  static Api api;
  static JsonObject doc;
  static final Set<String> METHODS = Set.of("get", "post", "put", "patch", "delete", "head", "options");

  @BeforeAll
  static void start() {
    node = TestNodes.shared();
    api = new Api(TestNodes.port(node));
    var r = api.get("/api/openapi.json", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    doc = r.bodyAsJsonObject();
  }

  /** "GET /api/conversations/{id}" for every route of the router under /api and /metrics. */
  private static Set<String> routerOperations() {
    Router router = HttpVerticle.router(node.vertx(), node.context(), node.gateway());
    Set<String> out = new TreeSet<>();
    for (Route route : router.getRoutes()) {
      String path = route.getPath();
      if (path == null || route.methods() == null || route.methods().isEmpty() || path.endsWith("/")
        || !(path.startsWith("/api/") || path.equals("/metrics"))) {
        continue;
      }
      String openApiPath = path.replaceAll(":([A-Za-z]+)", "{$1}");
      for (HttpMethod m : route.methods()) {
        out.add(m.name() + " " + openApiPath);
      }
    }
    return out;
  }

  private static Set<String> documentedOperations() {
    Set<String> out = new TreeSet<>();
    JsonObject paths = doc.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      for (String method : paths.getJsonObject(path).fieldNames()) {
        if (METHODS.contains(method)) {
          out.add(method.toUpperCase(Locale.ROOT) + " " + path);
        }
      }
    }
    return out;
  }

  @Test
  @DisplayName("every route of the router is described, and every described route exists")
  void routesMatch() {
    Set<String> routes = routerOperations();
    Set<String> documented = documentedOperations();
    assertThat(routes).as("routes found in the router").contains("GET /api/conversations", "POST /api/admin/revocations");
    Set<String> undocumented = new TreeSet<>(routes);
    undocumented.removeAll(documented);
    Set<String> missing = new TreeSet<>(documented);
    missing.removeAll(routes);
    assertThat(undocumented).as("routes missing from openapi.json").isEmpty();
    assertThat(missing).as("operations of openapi.json without a route").isEmpty();
  }

  @Test
  @DisplayName("the description is a valid OpenAPI 3.1 document, with unique operation ids")
  void validOpenApi31() {
    assertThat(doc.getString("openapi")).startsWith("3.1.");
    // The document's server is relative ("/": wherever it is served from), which the parser cannot
    // resolve to a URL; everything else is checked as served.
    // It also knows only a few media types: the event streams' text/event-stream is checked as
    // text/plain.
    JsonObject parsed = new JsonObject(doc.encode().replace("\"text/event-stream\"", "\"text/plain\""));
    parsed.remove("servers");
    OpenAPIContract contract = await(OpenAPIContract.from(Api.clientVertx(), parsed));
    assertThat(contract.operations()).hasSize(documentedOperations().size());
    Set<String> ids = new TreeSet<>();
    contract.operations().forEach(op -> assertThat(ids.add(op.getOperationId())).as(op.getOperationId()).isTrue());
  }

  @Test
  @DisplayName("every operation says how it fails, and every protected one how to authenticate")
  void operationsComplete() {
    JsonObject paths = doc.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      for (String method : paths.getJsonObject(path).fieldNames()) {
        if (!METHODS.contains(method)) {
          continue;
        }
        JsonObject op = paths.getJsonObject(path).getJsonObject(method);
        assertThat(op.getString("summary")).as(method + " " + path).isNotBlank();
        assertThat(op.getJsonObject("responses").fieldNames()).as(method + " " + path).isNotEmpty();
        if (path.startsWith("/api/admin/") || path.equals("/api/stats") || path.equals("/api/publish")) {
          assertThat(op.getJsonArray("security").encode()).as(method + " " + path).contains("apiKey");
        }
      }
    }
  }
}
