package io.switchboard.browser;

import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;

/**
 * The system Chromium (Debian {@code chromium} + {@code chromium-driver}) driven by Selenium, with
 * a fresh profile and Chromium's fake camera and microphone. The packages are installed with apt
 * when missing (the test setup runs as root on the CI machines); no browser is downloaded.
 */
final class Chromium implements AutoCloseable {

  static final Path BROWSER = Path.of("/usr/bin/chromium");
  static final Path DRIVER = Path.of("/usr/bin/chromedriver");
  static final Duration WAIT = Duration.ofSeconds(45);

  final ChromeDriver driver;
  private final Path profile;

  private Chromium(ChromeDriver driver, Path profile) {
    this.driver = driver;
    this.profile = profile;
  }

  /** Installs the Debian packages once per JVM if the browser or its driver is missing. */
  static synchronized void install() {
    if (Files.isExecutable(BROWSER) && Files.isExecutable(DRIVER)) {
      return;
    }
    run("apt-get", "update", "-q");
    run("apt-get", "install", "-y", "-q", "chromium", "chromium-driver");
    if (!Files.isExecutable(BROWSER) || !Files.isExecutable(DRIVER)) {
      throw new IllegalStateException("apt-get did not install " + BROWSER + " and " + DRIVER);
    }
  }

  private static void run(String... command) {
    try {
      Path log = Files.createTempFile("sb-apt", ".log");
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
      Process p = pb.start();
      if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " failed; see " + log);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A new headless browser with a profile of its own. */
  static Chromium start() {
    install();
    try {
      Path profile = Files.createTempDirectory("sb-chromium");
      ChromeOptions options = new ChromeOptions();
      options.setBinary(BROWSER.toFile());
      options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows", "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
        "--window-size=1180,780", "--user-data-dir=" + profile);
      LoggingPreferences logs = new LoggingPreferences();
      logs.enable(LogType.BROWSER, Level.ALL);
      options.setCapability("goog:loggingPrefs", logs);
      ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(DRIVER.toFile())
        .usingAnyFreePort()
        .build();
      return new Chromium(new ChromeDriver(service, options), profile);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  <T> T await(String what, Function<ChromeDriver, T> condition) {
    return new WebDriverWait(driver, WAIT, Duration.ofMillis(100))
      .withMessage(() -> what + "\n" + consoleLog())
      // The page re-renders lists as events arrive: an element found a moment ago may be gone.
      .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
      .until(d -> condition.apply((ChromeDriver) d));
  }

  /** Waits until a script returns true (or a non-null, non-false value). */
  Object awaitJs(String what, String script, Object... args) {
    return await(what, d -> {
      Object v = js(script, args);
      return Boolean.FALSE.equals(v) ? null : v;
    });
  }

  void screenshot(String name) {
    try {
      Path dir = Path.of("target", "screenshots");
      Files.createDirectories(dir);
      File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
      Files.copy(shot.toPath(), dir.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String consoleLog() {
    try {
      StringBuilder sb = new StringBuilder("browser console:\n");
      for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) {
        sb.append("  ").append(e.getLevel()).append(' ').append(e.getMessage()).append('\n');
      }
      return sb.toString();
    } catch (RuntimeException e) {
      return "(no browser log: " + e.getMessage() + ")";
    }
  }

  @Override
  public void close() {
    try {
      driver.quit();
    } finally {
      try (var files = Files.walk(profile)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // a temp dir left behind
      }
    }
  }
}
