package io.switchboard.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A private network for partition tests: a Linux bridge in the test's own namespace holding the
 * first address of a private /24 ({@code 10.213.N.1}), and one network namespace per member, each
 * joined to the bridge by a veth pair with address {@code 10.213.N.(2+i)}. The test's own clients
 * and PostgreSQL (listening on the bridge address) reach every member; a partition is made with
 * blackhole host routes inside the members' namespaces, which override the connected /24 on both
 * sides, and healed by deleting them. Names carry a random tag, so runs never share a device.
 * {@link #close()} deletes the namespaces (their veth ends go with them) and the bridge; a JVM
 * shutdown hook does the same if the test does not.
 *
 * <p>Needs root and {@code ip} (iproute2); {@link #create} throws {@link Unavailable} when a
 * namespace or the bridge cannot be created, so a test can skip with the reason.
 */
public final class Netns implements AutoCloseable {

  /** Namespaces or the bridge could not be created here (not root, no iproute2, no netns support). */
  public static final class Unavailable extends RuntimeException {
    Unavailable(String message) {
      super(message);
    }
  }

  private static final Set<Netns> OPEN = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.forEach(Netns::close), "netns-reaper"));
  }

  private final String tag;
  private final String subnet;
  private final int members;
  private final List<String> cuts = new ArrayList<>();
  private boolean closed;

  private Netns(String tag, String subnet, int members) {
    this.tag = tag;
    this.subnet = subnet;
    this.members = members;
  }

  /** Creates the bridge and {@code members} namespaces on a /24 of 10.213.0.0/16 that no route uses yet. */
  public static Netns create(int members) {
    if (members < 1 || members > 200) {
      throw new IllegalArgumentException("members: " + members);
    }
    String tag = Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36 * 36 * 36), 36);
    Netns n = new Netns(tag, freeSubnet(), members);
    OPEN.add(n);
    try {
      n.run("ip", "link", "add", n.bridge(), "type", "bridge");
      n.run("ip", "addr", "add", n.hostAddress() + "/24", "dev", n.bridge());
      n.run("ip", "link", "set", n.bridge(), "up");
      for (int i = 0; i < members; i++) {
        String ns = n.namespace(i);
        n.run("ip", "netns", "add", ns);
        n.run("ip", "link", "add", n.hostEnd(i), "type", "veth", "peer", "name", n.memberEnd(i));
        n.run("ip", "link", "set", n.memberEnd(i), "netns", ns);
        n.run("ip", "link", "set", n.hostEnd(i), "master", n.bridge(), "up");
        n.run("ip", "netns", "exec", ns, "ip", "addr", "add", n.address(i) + "/24", "dev", n.memberEnd(i));
        n.run("ip", "netns", "exec", ns, "ip", "link", "set", n.memberEnd(i), "up");
        n.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
      }
      return n;
    } catch (IllegalStateException e) {
      n.close();
      throw new Unavailable("cannot create network namespaces here: " + e.getMessage());
    }
  }

  /** A /24 of 10.213.0.0/16 with no route in this namespace yet. */
  private static String freeSubnet() {
    String routes;
    try {
      routes = output("ip", "-4", "route", "show");
    } catch (IllegalStateException e) {
      throw new Unavailable("cannot read routes: " + e.getMessage());
    }
    // Spread by PID, so that two test JVMs starting at once are unlikely to try the same one.
    int first = 7 + (int) (ProcessHandle.current().pid() % 240);
    for (int k = 0; k < 250; k++) {
      int third = (first + k) % 250;
      String prefix = "10.213." + third + ".";
      if (!routes.contains(prefix)) {
        return prefix;
      }
    }
    throw new Unavailable("no free /24 in 10.213.0.0/16");
  }

  public int size() {
    return members;
  }

  /** The /24 in CIDR notation, e.g. {@code 10.213.7.0/24}. */
  public String cidr() {
    return subnet + "0/24";
  }

  /** The bridge's address in the test's own namespace: where members reach the test's services. */
  public String hostAddress() {
    return subnet + "1";
  }

  /** Member {@code i}'s address. */
  public String address(int i) {
    return subnet + (2 + i);
  }

  /** Member {@code i}'s namespace name. */
  public String namespace(int i) {
    return "sb-" + tag + "-" + i;
  }

  /** The command prefix that runs a program in member {@code i}'s namespace ({@code ip netns exec} execs it). */
  public List<String> launcher(int i) {
    return List.of("ip", "netns", "exec", namespace(i));
  }

  private String bridge() {
    return "sbbr" + tag;
  }

  private String hostEnd(int i) {
    return "sbh" + tag + "x" + i;
  }

  private String memberEnd(int i) {
    return "sbp" + tag + "x" + i;
  }

  /**
   * Cuts every member of {@code side} off from every member of {@code other}, both ways, with
   * blackhole host routes in each one's namespace. The test's own namespace still reaches all.
   */
  public synchronized void partition(Collection<Integer> side, Collection<Integer> other) {
    for (int a : side) {
      for (int b : other) {
        blackhole(a, b);
        blackhole(b, a);
      }
    }
  }

  private void blackhole(int from, int to) {
    run("ip", "netns", "exec", namespace(from), "ip", "route", "add", "blackhole", address(to) + "/32");
    cuts.add(from + ">" + to);
  }

  /** Deletes every blackhole route: all members reach each other again. */
  public synchronized void heal() {
    for (String cut : List.copyOf(cuts)) {
      int from = Integer.parseInt(cut.substring(0, cut.indexOf('>')));
      int to = Integer.parseInt(cut.substring(cut.indexOf('>') + 1));
      run("ip", "netns", "exec", namespace(from), "ip", "route", "del", "blackhole", address(to) + "/32");
      cuts.remove(cut);
    }
  }

  /** Whether a partition is in place. */
  public synchronized boolean partitioned() {
    return !cuts.isEmpty();
  }

  /** Deletes the namespaces (and with them their veth ends), the host ends left over, and the bridge. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (int i = 0; i < members; i++) {
      quietly("ip", "netns", "del", namespace(i));
      quietly("ip", "link", "del", hostEnd(i));
    }
    quietly("ip", "link", "del", bridge());
    OPEN.remove(this);
  }

  private void run(String... command) {
    output(command);
  }

  private static void quietly(String... command) {
    try {
      output(command);
    } catch (IllegalStateException e) {
      // already gone
    }
  }

  /** Runs a command to its end (at most 20 s); its output, or IllegalStateException with it. */
  private static String output(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + ": no exit within 20 s");
      }
      String text = new String(out, StandardCharsets.UTF_8).trim();
      if (p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ": " + text);
      }
      return text;
    } catch (IOException e) {
      throw new IllegalStateException(String.join(" ", command) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(String.join(" ", command) + ": interrupted", e);
    }
  }

  @Override
  public String toString() {
    return "netns " + tag + " (" + cidr() + ", " + members + " members)";
  }
}
