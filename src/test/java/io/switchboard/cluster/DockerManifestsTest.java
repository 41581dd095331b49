package io.switchboard.cluster;

import io.switchboard.config.ConfigLoader;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.testing.Api;
import io.switchboard.testing.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The deployment files under {@code docker/} (Dockerfile, compose, Swarm stack, Kubernetes) parse,
 * and everything they say about Switchboard exists: each {@code SWITCHBOARD_*} variable is a
 * configuration key with a valid value, each port is one the node listens on, each probe path is a
 * route, each grace period outlasts {@code shutdown.drainSeconds}, and the Kubernetes discovery
 * name is a headless Service over the node's pods.
 */
class DockerManifestsTest {

  private static final Path DOCKER = Path.of("docker");
  private static final Pattern API_PATH = Pattern.compile("/api/[A-Za-z0-9/_-]*");
  private static final Pattern ENV_NAME = Pattern.compile("SWITCHBOARD_[A-Z0-9_]+");

  /** One Switchboard container as a deployment file describes it. */
  static final class Container {
    final String where;
    final Map<String, String> env = new LinkedHashMap<>();
    final Set<String> envNames = new LinkedHashSet<>();
    final Set<Integer> ports = new LinkedHashSet<>();
    final Map<String, Integer> portNames = new HashMap<>();
    final Set<String> probePaths = new LinkedHashSet<>();
    final Map<String, String> labels = new HashMap<>();
    Integer graceSeconds;

    Container(String where) {
      this.where = where;
    }
  }

  static Container image;
  static final List<Container> containers = new ArrayList<>();
  static final List<Map<String, Object>> kubernetesServices = new ArrayList<>();
  static final List<Path> yamlFiles = new ArrayList<>();

  @BeforeAll
  static void read() throws IOException {
    image = dockerfile(DOCKER.resolve("Dockerfile"));
    try (Stream<Path> files = Files.walk(DOCKER)) {
      files.filter(f -> f.toString().endsWith(".yml") || f.toString().endsWith(".yaml")).sorted().forEach(yamlFiles::add);
    }
    for (Path file : yamlFiles) {
      List<Object> documents = new ArrayList<>();
      try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        new Yaml().loadAll(in).forEach(documents::add);
      }
      for (Object document : documents) {
        Map<String, Object> doc = map(document);
        if (doc.containsKey("services")) {
          compose(file, doc);
        } else if (doc.containsKey("kind")) {
          kubernetes(file, doc);
        }
      }
    }
  }

  @Test
  @DisplayName("every YAML file under docker/ parses, and compose, the Swarm stack and Kubernetes each describe a Switchboard container")
  void filesParse() {
    assertThat(yamlFiles).extracting(Path::toString)
      .contains("docker/docker-compose.yml", "docker/stack.yml", "docker/k8s/switchboard.yaml");
    assertThat(containers).extracting(c -> c.where.substring(0, c.where.indexOf(' ')))
      .contains("docker/docker-compose.yml", "docker/stack.yml", "docker/k8s/switchboard.yaml");
  }

  @Test
  @DisplayName("every SWITCHBOARD_* variable is a configuration key, and each container's values load as a valid configuration")
  void environmentIsConfiguration() {
    Set<String> known = knownVariables();
    for (Container c : allContainers()) {
      assertThat(c.envNames).as("variables of %s", c.where).isSubsetOf(known);
      SwitchboardConfig config = ConfigLoader.load(null, effectiveEnv(c));
      // Discovery entries parse (name, name:port).
      ClusterSetup.targets(config.cluster());
    }
  }

  @Test
  @DisplayName("every port a container exposes is one the node listens on: HTTP, the TCP bridge, Hazelcast's range or the event bus")
  void portsExist() {
    for (Container c : allContainers()) {
      SwitchboardConfig config = ConfigLoader.load(null, effectiveEnv(c));
      Set<Integer> listening = new LinkedHashSet<>();
      listening.add(config.http().port());
      if (config.bridge().tcpPort() > 0) {
        listening.add(config.bridge().tcpPort());
      }
      for (int p = config.cluster().port(); p < config.cluster().port() + ClusterSetup.PORT_COUNT; p++) {
        listening.add(p);
      }
      if (config.cluster().busPort() > 0) {
        listening.add(config.cluster().busPort());
      }
      assertThat(c.ports).as("ports of %s", c.where).isNotEmpty().isSubsetOf(listening);
    }
    assertThat(image.ports).as("the image exposes the event-bus port it sets")
      .contains(ConfigLoader.load(null, image.env).cluster().busPort());
  }

  @Test
  @DisplayName("every probe path is a route of the node: /api/health/ready and /api/health/live answer 200 on a serving node")
  void probePathsExist() {
    Api api = new Api(TestNodes.port(TestNodes.shared()));
    Set<String> paths = new LinkedHashSet<>();
    allContainers().forEach(c -> paths.addAll(c.probePaths));
    assertThat(paths).contains("/api/health/ready", "/api/health/live");
    for (String path : paths) {
      assertThat(api.get(path, null).statusCode()).as("GET %s", path).isEqualTo(200);
    }
  }

  @Test
  @DisplayName("each grace period before a kill outlasts shutdown.drainSeconds")
  void graceAboveDrain() {
    assertThat(containers).isNotEmpty();
    for (Container c : containers) {
      int drain = ConfigLoader.load(null, effectiveEnv(c)).drainSeconds();
      assertThat(c.graceSeconds).as("grace period of %s", c.where).isNotNull().isGreaterThan(drain);
    }
  }

  @Test
  @DisplayName("Kubernetes: cluster.dns names a headless Service that lists not-ready pods of the Deployment; the client Service targets a named port")
  void kubernetesDiscovery() {
    Container pod = containers.stream().filter(c -> c.where.startsWith("docker/k8s/")).findFirst().orElseThrow();
    String dns = pod.env.get("SWITCHBOARD_CLUSTER_DNS");
    assertThat(dns).as("SWITCHBOARD_CLUSTER_DNS of %s", pod.where).isNotBlank();
    String host = DnsDiscovery.Target.parse(dns, 5701, 1).host();
    String serviceName = host.contains(".") ? host.substring(0, host.indexOf('.')) : host;
    Map<String, Object> headless = kubernetesServices.stream()
      .filter(s -> serviceName.equals(map(s.get("metadata")).get("name"))).findFirst()
      .orElseThrow(() -> new AssertionError("no Service named " + serviceName));
    Map<String, Object> spec = map(headless.get("spec"));
    assertThat(spec.get("clusterIP")).isEqualTo("None");
    assertThat(spec.get("publishNotReadyAddresses")).isEqualTo(true);
    for (Map<String, Object> service : kubernetesServices) {
      Map<String, Object> s = map(service.get("spec"));
      assertThat(pod.labels).as("pod labels").containsAllEntriesOf(strings(map(s.get("selector"))));
      for (Object port : list(s.get("ports"))) {
        Object target = map(port).get("targetPort");
        Integer number = target instanceof Integer n ? n : pod.portNames.get(String.valueOf(target));
        assertThat(number).as("targetPort %s of Service %s", target, map(service.get("metadata")).get("name"))
          .isNotNull().isIn(pod.ports);
      }
    }
  }

  // ---------------------------------------------------------------- reading

  private static List<Container> allContainers() {
    List<Container> all = new ArrayList<>(containers);
    all.add(image);
    return all;
  }

  /** What the container sees: the image's ENV, then its own variables (literal values only). */
  private static Map<String, String> effectiveEnv(Container c) {
    Map<String, String> env = new HashMap<>(image.env);
    env.putAll(c.env);
    return env;
  }

  private static Set<String> knownVariables() {
    Set<String> names = new LinkedHashSet<>();
    collect(ConfigLoader.defaults(), "", names);
    return names;
  }

  private static void collect(JsonObject o, String prefix, Set<String> out) {
    o.forEach(e -> {
      if (e.getValue() instanceof JsonObject child) {
        collect(child, prefix + e.getKey() + ".", out);
      } else {
        out.add(ConfigLoader.envName(prefix + e.getKey()));
      }
    });
  }

  private static Container dockerfile(Path file) throws IOException {
    Container c = new Container(file + " (image)");
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String l = line.trim();
      if (l.startsWith("ENV ")) {
        for (String pair : l.substring(4).trim().split("\\s+")) {
          String[] kv = pair.split("=", 2);
          c.env.put(kv[0], kv.length > 1 ? kv[1] : "");
          names(kv[0], c);
        }
      } else if (l.startsWith("EXPOSE ")) {
        for (String p : l.substring(7).trim().split("\\s+")) {
          c.ports.add(Integer.parseInt(p.replace("/tcp", "")));
        }
      } else if (l.startsWith("HEALTHCHECK") || l.startsWith("ENTRYPOINT") || l.startsWith("CMD")) {
        paths(l, c);
        names(l, c);
      }
    }
    return c;
  }

  private static void compose(Path file, Map<String, Object> doc) {
    Map<String, Object> services = map(doc.get("services"));
    services.forEach((name, value) -> {
      Map<String, Object> service = map(value);
      boolean ours = service.containsKey("build") || String.valueOf(service.get("image")).contains("switchboard");
      if (!ours) {
        return;
      }
      Container c = new Container(file + " service " + name);
      Object environment = service.get("environment");
      if (environment instanceof Map<?, ?> m) {
        m.forEach((k, v) -> {
          c.env.put(String.valueOf(k), String.valueOf(v));
          names(String.valueOf(k), c);
        });
      } else if (environment instanceof List<?> l) {
        for (Object item : l) {
          String[] kv = String.valueOf(item).split("=", 2);
          c.env.put(kv[0], kv.length > 1 ? kv[1] : "");
          names(kv[0], c);
        }
      }
      for (Object port : list(service.get("ports"))) {
        String target = port instanceof Map<?, ?> m ? String.valueOf(m.get("target")) : String.valueOf(port);
        target = target.substring(target.lastIndexOf(':') + 1).replace("/tcp", "");
        c.ports.add(Integer.parseInt(target));
      }
      Object health = service.get("healthcheck");
      if (health != null) {
        paths(String.valueOf(map(health).get("test")), c);
      }
      Object entrypoint = service.get("entrypoint");
      if (entrypoint != null) {
        names(String.valueOf(entrypoint), c);
      }
      Object grace = service.get("stop_grace_period");
      if (grace != null) {
        c.graceSeconds = seconds(String.valueOf(grace));
      }
      containers.add(c);
    });
  }

  private static void kubernetes(Path file, Map<String, Object> doc) {
    String kind = String.valueOf(doc.get("kind"));
    if ("Service".equals(kind)) {
      kubernetesServices.add(doc);
      return;
    }
    if (!"Deployment".equals(kind) && !"StatefulSet".equals(kind)) {
      return;
    }
    Map<String, Object> template = map(map(doc.get("spec")).get("template"));
    Map<String, Object> podSpec = map(template.get("spec"));
    for (Object containerValue : list(podSpec.get("containers"))) {
      Map<String, Object> container = map(containerValue);
      if (!String.valueOf(container.get("image")).contains("switchboard")) {
        continue;
      }
      Container c = new Container(file + " " + kind + " container " + container.get("name"));
      c.labels.putAll(strings(map(map(template.get("metadata")).get("labels"))));
      for (Object e : list(container.get("env"))) {
        Map<String, Object> var = map(e);
        String name = String.valueOf(var.get("name"));
        names(name, c);
        if (var.containsKey("value")) {
          c.env.put(name, String.valueOf(var.get("value")));
        }
      }
      for (Object p : list(container.get("ports"))) {
        Map<String, Object> port = map(p);
        int number = (Integer) port.get("containerPort");
        c.ports.add(number);
        if (port.get("name") != null) {
          c.portNames.put(String.valueOf(port.get("name")), number);
        }
      }
      for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
        Object spec = container.get(probe);
        if (spec != null && map(spec).get("httpGet") != null) {
          Map<String, Object> get = map(map(spec).get("httpGet"));
          c.probePaths.add(String.valueOf(get.get("path")));
          Object port = get.get("port");
          assertThat(port instanceof Integer n ? n : c.portNames.get(String.valueOf(port)))
            .as("%s port of %s", probe, c.where).isNotNull();
        }
      }
      Object grace = podSpec.get("terminationGracePeriodSeconds");
      c.graceSeconds = grace == null ? 30 : (Integer) grace;
      containers.add(c);
    }
  }

  private static void paths(String text, Container c) {
    Matcher m = API_PATH.matcher(text);
    while (m.find()) {
      c.probePaths.add(m.group());
    }
  }

  private static void names(String text, Container c) {
    Matcher m = ENV_NAME.matcher(text);
    while (m.find()) {
      c.envNames.add(m.group());
    }
  }

  private static int seconds(String duration) {
    Matcher m = Pattern.compile("(?:(\\d+)m)?(?:(\\d+)s)?").matcher(duration.trim());
    assertThat(m.matches()).as("a duration: %s", duration).isTrue();
    return (m.group(1) == null ? 0 : Integer.parseInt(m.group(1)) * 60) + (m.group(2) == null ? 0 : Integer.parseInt(m.group(2)));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    assertThat(o).isInstanceOf(Map.class);
    return (Map<String, Object>) o;
  }

  private static List<?> list(Object o) {
    return o == null ? List.of() : (List<?>) o;
  }

  private static Map<String, String> strings(Map<String, Object> m) {
    Map<String, String> out = new HashMap<>();
    m.forEach((k, v) -> out.put(k, String.valueOf(v)));
    return out;
  }
}
