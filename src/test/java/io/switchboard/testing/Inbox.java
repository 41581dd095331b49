package io.switchboard.testing;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;

/**
 * What a test client has received, in order, and futures for "the next item that matches".
 * Each item is handed to at most one waiter, so two waits for the same type get two items. A
 * wait fails with everything received so far when it times out or the stream ends first.
 */
final class Inbox<T> {

  static final long TIMEOUT_MS = 15_000;

  private final Vertx vertx;
  private final String name;
  private final List<T> items = new ArrayList<>();
  private final List<Boolean> taken = new ArrayList<>();
  private final List<Waiter<T>> waiters = new ArrayList<>();
  private String ended;

  private record Waiter<T>(Predicate<T> matches, String what, Promise<T> promise) {
  }

  Inbox(Vertx vertx, String name) {
    this.vertx = vertx;
    this.name = name;
  }

  void add(T item) {
    Waiter<T> served = null;
    synchronized (this) {
      items.add(item);
      taken.add(false);
      for (Iterator<Waiter<T>> it = waiters.iterator(); it.hasNext(); ) {
        Waiter<T> w = it.next();
        if (w.matches().test(item)) {
          it.remove();
          taken.set(taken.size() - 1, true);
          served = w;
          break;
        }
      }
    }
    if (served != null) {
      served.promise().tryComplete(item);
    }
  }

  /** The stream ended: pending and later waits fail at once. */
  void end(String why) {
    List<Waiter<T>> failed;
    synchronized (this) {
      if (ended != null) {
        return;
      }
      ended = why;
      failed = new ArrayList<>(waiters);
      waiters.clear();
    }
    failed.forEach(w -> w.promise().tryFail(failure(w.what(), why)));
  }

  /** The first item not yet handed out that matches; fails after {@link #TIMEOUT_MS}. */
  Future<T> next(Predicate<T> matches, String what) {
    Promise<T> promise = Promise.promise();
    Waiter<T> waiter = new Waiter<>(matches, what, promise);
    synchronized (this) {
      for (int i = 0; i < items.size(); i++) {
        if (!taken.get(i) && matches.test(items.get(i))) {
          taken.set(i, true);
          return Future.succeededFuture(items.get(i));
        }
      }
      if (ended != null) {
        return Future.failedFuture(failure(what, ended));
      }
      waiters.add(waiter);
    }
    long timer = vertx.setTimer(TIMEOUT_MS, id -> {
      synchronized (this) {
        waiters.remove(waiter);
      }
      promise.tryFail(failure(what, "timed out after " + TIMEOUT_MS + " ms"));
    });
    return promise.future().onComplete(ar -> vertx.cancelTimer(timer));
  }

  /** Everything received so far, in order. */
  synchronized List<T> all() {
    return List.copyOf(items);
  }

  private AssertionError failure(String what, String why) {
    return new AssertionError(name + ": no " + what + " (" + why + "); received " + all());
  }
}
