package io.switchboard.gateway;

/** A token bucket: {@code rate} tokens per second up to {@code burst}. Not thread-safe. */
public final class TokenBucket {

  private final double rate;
  private final double burst;
  private double tokens;
  private long last;

  public TokenBucket(double rate, double burst) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = System.nanoTime();
  }

  /** True when the bucket has refilled completely: it holds nothing worth keeping. */
  public boolean isFull() {
    return Math.min(burst, tokens + (System.nanoTime() - last) / 1e9 * rate) >= burst;
  }

  /** Takes one token; 0 when allowed, else the seconds to wait (at least 1). */
  public long take() {
    long now = System.nanoTime();
    tokens = Math.min(burst, tokens + (now - last) / 1e9 * rate);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((1 - tokens) / rate));
  }
}
