package io.switchboard.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Nchan (nginx + libnginx-mod-nchan) for the bench's template-target tests, started from the
 * project's {@code bench/nchan.conf.template} as {@code bench/run.sh} starts it: its own run
 * directory, a loopback port, one worker; installed with apt when missing (as root), the system
 * nginx service untouched. Stopped by its master's pid.
 */
final class NchanServer implements AutoCloseable {

  static final Path MODULE = Path.of("/usr/lib/nginx/modules/ngx_nchan_module.so");

  final int port;
  final long masterPid;
  private final Path dir;

  private NchanServer(int port, long masterPid, Path dir) {
    this.port = port;
    this.masterPid = masterPid;
    this.dir = dir;
  }

  static NchanServer start() throws Exception {
    ensureInstalled();
    Path dir = Files.createTempDirectory("sb-test-nchan");
    for (String d : List.of("body", "proxy", "fcgi", "uwsgi", "scgi")) {
      Files.createDirectories(dir.resolve("tmp").resolve(d));
    }
    int port = io.switchboard.testing.TestNodes.freePort();
    String conf = Files.readString(Path.of("bench/nchan.conf.template"), StandardCharsets.UTF_8)
      .replace("@DIR@", dir.toString())
      .replace("@PORT@", String.valueOf(port))
      .replaceFirst("(?m)^worker_processes .*$", "worker_processes 1;");
    Files.writeString(dir.resolve("nginx.conf"), conf);
    int exit = run(List.of("nginx", "-e", dir.resolve("error.log").toString(), "-c", dir.resolve("nginx.conf").toString(),
      "-p", dir + "/"), 30);
    if (exit != 0) {
      throw new IllegalStateException("nginx did not start: " + Files.readString(dir.resolve("error.log")));
    }
    Path pidFile = dir.resolve("nginx.pid");
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!Files.exists(pidFile) || Files.readString(pidFile).isBlank()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("nginx wrote no pid file");
      }
      Thread.sleep(50);
    }
    return new NchanServer(port, Long.parseLong(Files.readString(pidFile).trim()), dir);
  }

  /** Installs nginx and the Nchan module with apt when missing; skips the test where that is impossible. */
  private static void ensureInstalled() throws Exception {
    if (Files.exists(MODULE) && run(List.of("nginx", "-v"), 30) == 0) {
      return;
    }
    assumeTrue(run(List.of("apt-get", "--version"), 30) == 0 && "root".equals(System.getProperty("user.name")),
      "Nchan is not installed and apt-get cannot install it here (needs root)");
    run(List.of("apt-get", "update", "-qq"), 300);
    ProcessBuilder pb = new ProcessBuilder("apt-get", "install", "-y", "-qq", "nginx", "libnginx-mod-nchan");
    // RUNLEVEL=1: the package's init script must not start the system nginx service.
    pb.environment().put("RUNLEVEL", "1");
    pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
    int exit = waitFor(pb, 600);
    if (exit != 0 || !Files.exists(MODULE)) {
      throw new IllegalStateException("apt-get could not install nginx and libnginx-mod-nchan (exit " + exit + ")");
    }
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  @Override
  public void close() throws Exception {
    ProcessHandle.of(masterPid).ifPresent(p -> {
      // SIGQUIT: nginx's graceful stop, by the master's pid.
      try {
        run(List.of("kill", "-QUIT", String.valueOf(masterPid)), 10);
        p.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        p.destroyForcibly();
      }
    });
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static int run(List<String> command, int seconds) throws IOException, InterruptedException {
    try {
      return waitFor(new ProcessBuilder(command), seconds);
    } catch (IOException e) {
      return -1;
    }
  }

  private static int waitFor(ProcessBuilder pb, int seconds) throws IOException, InterruptedException {
    Path log = Files.createTempFile("sb-test-cmd", ".log");
    Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile())
      .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }
}
