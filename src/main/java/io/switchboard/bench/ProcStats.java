package io.switchboard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the server processes cost, read the way {@code top} and {@code ps} read it: CPU seconds
 * (user + system) from {@code /proc/<pid>/stat}, resident memory from {@code /proc/<pid>/status},
 * and a JVM's live heap from {@code jcmd}. A <em>tree</em> is a process and all its descendants
 * (nginx: the master and its workers), found again at every reading so workers that start late
 * are counted.
 */
final class ProcStats {

  /** Clock ticks per second of {@code /proc/<pid>/stat} (USER_HZ: 100 on every Linux port in use). */
  private static final double TICKS = 100.0;

  private final List<Long> pids;
  private final List<Long> trees;

  ProcStats(List<Long> pids, List<Long> trees) {
    this.pids = List.copyOf(pids);
    this.trees = List.copyOf(trees);
  }

  /** True when there is at least one process to read. */
  boolean any() {
    return !pids.isEmpty() || !trees.isEmpty();
  }

  /** The processes counted now: the named ones and every descendant of the trees. */
  Set<Long> processes() {
    Set<Long> all = new LinkedHashSet<>(pids);
    for (long root : trees) {
      all.add(root);
      all.addAll(descendants(root));
    }
    return all;
  }

  /** CPU seconds (user + system) used so far by the counted processes. */
  double cpuSeconds() {
    double sum = 0;
    for (long pid : processes()) {
      sum += cpuSeconds(pid);
    }
    return sum;
  }

  /** Resident memory, bytes, of the counted processes. */
  long rssBytes() {
    long sum = 0;
    for (long pid : processes()) {
      sum += rssBytes(pid);
    }
    return sum;
  }

  /** CPU seconds (user + system) of one process, 0 when it is gone. */
  static double cpuSeconds(long pid) {
    String stat = read(Path.of("/proc", String.valueOf(pid), "stat"));
    if (stat == null) {
      return 0;
    }
    // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS;
  }

  /** This process's own CPU seconds: how busy the bench client itself is. */
  static double selfCpuSeconds() {
    return cpuSeconds(ProcessHandle.current().pid());
  }

  /** VmRSS of one process in bytes, 0 when it is gone. */
  static long rssBytes(long pid) {
    String status = read(Path.of("/proc", String.valueOf(pid), "status"));
    if (status == null) {
      return 0;
    }
    for (String line : status.split("\n")) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return 0;
  }

  /** Every live descendant of {@code root}. */
  static List<Long> descendants(long root) {
    List<Long> out = new ArrayList<>();
    ProcessHandle.of(root).ifPresent(p -> p.descendants().forEach(d -> out.add(d.pid())));
    return out;
  }

  /**
   * The live heap of a JVM after a full collection, in bytes: {@code jcmd <pid>
   * GC.class_histogram} first collects (a full GC: it reports live objects only) and ends with a
   * {@code Total <instances> <bytes>} line. Blocking (it runs a process): call it off the event
   * loop. Fails when jcmd cannot attach (another user's JVM, or not a JVM at all).
   */
  static long liveHeapBytes(long pid) {
    String out = jcmd(pid, "GC.class_histogram");
    String[] lines = out.strip().split("\n");
    String last = lines[lines.length - 1].trim();
    if (!last.startsWith("Total")) {
      throw new IllegalStateException("jcmd GC.class_histogram: no Total line in: " + abbreviate(out));
    }
    String[] f = last.split("\\s+");
    return Long.parseLong(f[f.length - 1]);
  }

  private static String jcmd(long pid, String command) {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    String exe = Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd";
    try {
      Process p = new ProcessBuilder(exe, String.valueOf(pid), command).redirectErrorStream(true).start();
      byte[] bytes;
      try (var in = p.getInputStream()) {
        bytes = in.readAllBytes();
      }
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException("jcmd " + pid + " " + command + " failed: "
          + abbreviate(new String(bytes, StandardCharsets.UTF_8)));
      }
      return new String(bytes, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run jcmd: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static String abbreviate(String s) {
    return s.length() > 300 ? s.substring(0, 300) + "…" : s;
  }

  private static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.ISO_8859_1);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** The pids of a comma-separated option value. */
  static List<Long> parsePids(String value) {
    return Stream.of(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(Long::parseLong).toList();
  }
}
