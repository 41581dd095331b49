package io.switchboard.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Loads the configuration as SPEC §9 describes it: the packaged {@code conf/switchboard.json}
 * defaults, an optional {@code -conf FILE} merged over them, then {@code SWITCHBOARD_*}
 * environment variables overriding single keys. Every key must exist in the defaults and keep
 * the JSON type of its default.
 */
public final class ConfigLoader {

  public static final String DEFAULTS_RESOURCE = "conf/switchboard.json";
  public static final String ENV_PREFIX = "SWITCHBOARD_";

  private ConfigLoader() {
  }

  /** The packaged defaults. */
  public static JsonObject defaults() {
    try (InputStream in = ConfigLoader.class.getClassLoader().getResourceAsStream(DEFAULTS_RESOURCE)) {
      if (in == null) {
        throw new ConfigException("missing packaged " + DEFAULTS_RESOURCE);
      }
      return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new ConfigException("cannot read packaged " + DEFAULTS_RESOURCE + ": " + e.getMessage());
    }
  }

  /** True when {@code secret} is the packaged development secret (a start-up warning). */
  public static boolean isDevSecret(String secret) {
    return secret.equals(defaults().getJsonObject("auth").getString("jwtSecret"));
  }

  /** Defaults, merged with the file (may be null), then the environment; validated. */
  public static SwitchboardConfig load(Path confFile, Map<String, String> env) {
    JsonObject defaults = defaults();
    JsonObject merged = defaults.copy();
    if (confFile != null) {
      merge(merged, readFile(confFile), defaults, "");
    }
    applyEnv(merged, defaults, env);
    return SwitchboardConfig.from(merged);
  }

  /** Defaults with an in-memory override merged over them (tests and embedding). */
  public static SwitchboardConfig fromOverrides(JsonObject overrides) {
    JsonObject defaults = defaults();
    JsonObject merged = defaults.copy();
    merge(merged, overrides, defaults, "");
    return SwitchboardConfig.from(merged);
  }

  private static JsonObject readFile(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    try {
      return new JsonObject(text);
    } catch (DecodeException e) {
      throw new ConfigException("config file " + file + " is not a JSON object: " + e.getMessage());
    }
  }

  /** Deep-merges {@code over} into {@code target}, refusing keys or types the defaults do not have. */
  static void merge(JsonObject target, JsonObject over, JsonObject defaults, String prefix) {
    for (Map.Entry<String, Object> e : over) {
      String key = prefix + e.getKey();
      if (!defaults.containsKey(e.getKey())) {
        throw new ConfigException("unknown configuration key '" + key + "'");
      }
      Object def = defaults.getValue(e.getKey());
      Object value = e.getValue();
      if (def instanceof JsonObject defObj) {
        if (!(value instanceof JsonObject valueObj)) {
          throw wrongType(key, def);
        }
        merge(target.getJsonObject(e.getKey()), valueObj, defObj, key + ".");
      } else {
        checkType(key, def, value);
        target.put(e.getKey(), value);
      }
    }
  }

  static void applyEnv(JsonObject target, JsonObject defaults, Map<String, String> env) {
    List<String> leaves = new ArrayList<>();
    collectLeaves(defaults, "", leaves);
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (!e.getKey().startsWith(ENV_PREFIX)) {
        continue;
      }
      String key = leaves.stream()
        .filter(leaf -> envName(leaf).equals(e.getKey()))
        .findFirst()
        .orElseThrow(() -> new ConfigException("unknown configuration variable " + e.getKey()));
      Object value = parseEnvValue(e.getValue());
      Object def = lookup(defaults, key);
      checkType(key, def, value);
      String[] path = key.split("\\.");
      JsonObject node = target;
      for (int i = 0; i < path.length - 1; i++) {
        node = node.getJsonObject(path[i]);
      }
      node.put(path[path.length - 1], value);
    }
  }

  /** {@code http.port} becomes {@code SWITCHBOARD_HTTP_PORT}. */
  public static String envName(String key) {
    return ENV_PREFIX + key.replace('.', '_').toUpperCase(Locale.ROOT);
  }

  /** A value that parses as JSON (number, boolean, array, object, quoted string) is JSON; else a string. */
  static Object parseEnvValue(String raw) {
    String trimmed = raw.trim();
    if (trimmed.isEmpty()) {
      return raw;
    }
    try {
      Object parsed = Json.decodeValue(trimmed);
      return parsed == null ? raw : parsed;
    } catch (DecodeException e) {
      return raw;
    }
  }

  private static void collectLeaves(JsonObject obj, String prefix, List<String> out) {
    for (Map.Entry<String, Object> e : obj) {
      if (e.getValue() instanceof JsonObject child) {
        collectLeaves(child, prefix + e.getKey() + ".", out);
      } else {
        out.add(prefix + e.getKey());
      }
    }
  }

  private static Object lookup(JsonObject obj, String dotted) {
    String[] path = dotted.split("\\.");
    JsonObject node = obj;
    for (int i = 0; i < path.length - 1; i++) {
      node = node.getJsonObject(path[i]);
    }
    return node.getValue(path[path.length - 1]);
  }

  private static void checkType(String key, Object def, Object value) {
    boolean ok;
    if (def instanceof Number) {
      ok = value instanceof Number;
    } else if (def instanceof Boolean) {
      ok = value instanceof Boolean;
    } else if (def instanceof String) {
      ok = value instanceof String;
    } else if (def instanceof JsonArray) {
      ok = value instanceof JsonArray;
    } else {
      ok = value instanceof JsonObject;
    }
    if (!ok) {
      throw wrongType(key, def);
    }
  }

  private static ConfigException wrongType(String key, Object def) {
    return new ConfigException("configuration key '" + key + "' must be " + typeName(def));
  }

  static String typeName(Object def) {
    if (def instanceof Number) {
      return "a number";
    } else if (def instanceof Boolean) {
      return "a boolean";
    } else if (def instanceof String) {
      return "a string";
    } else if (def instanceof JsonArray) {
      return "an array";
    }
    return "an object";
  }
}
