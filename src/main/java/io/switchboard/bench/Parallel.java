package io.switchboard.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/** Runs {@code n} asynchronous steps with at most {@code parallel} in flight; fails on the first failure. */
final class Parallel {

  private Parallel() {
  }

  static Future<Void> forEach(int n, int parallel, IntFunction<Future<?>> step) {
    if (n == 0) {
      return Future.succeededFuture();
    }
    Promise<Void> done = Promise.promise();
    AtomicInteger next = new AtomicInteger();
    AtomicInteger finished = new AtomicInteger();
    Runnable[] pump = new Runnable[1];
    pump[0] = () -> {
      int i = next.getAndIncrement();
      if (i >= n) {
        return;
      }
      Future<?> f;
      try {
        f = step.apply(i);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        if (ar.failed()) {
          done.tryFail(ar.cause());
          return;
        }
        if (finished.incrementAndGet() == n) {
          done.tryComplete();
        } else if (!done.future().isComplete()) {
          pump[0].run();
        }
      });
    };
    for (int k = 0; k < Math.min(n, parallel); k++) {
      pump[0].run();
    }
    return done.future();
  }
}
