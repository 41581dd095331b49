package io.switchboard.http;

import io.switchboard.config.SwitchboardConfig;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.PemKeyCertOptions;

/**
 * TLS on a server port from PEM files ({@code http.tls.*}, {@code bridge.tls.*}): the
 * certificate chain and its private key (PKCS#8, or PKCS#1 RSA). Nothing is changed when the
 * pair is not set.
 */
public final class Tls {

  private Tls() {
  }

  public static <T extends NetServerOptions> T apply(T options, SwitchboardConfig.Pem pem) {
    if (pem.enabled()) {
      options.setSsl(true).setKeyCertOptions(new PemKeyCertOptions()
        .setCertPath(pem.certFile())
        .setKeyPath(pem.keyFile()));
    }
    return options;
  }
}
