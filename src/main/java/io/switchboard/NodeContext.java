package io.switchboard;

import io.switchboard.auth.Authenticator;
import io.switchboard.config.SwitchboardConfig;
import io.switchboard.gateway.ConnectionCounts;
import io.switchboard.metrics.NodeMetrics;
import io.switchboard.service.CommandClient;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.sqlclient.Pool;

/**
 * What the verticles of one node share: its configuration, database pools (the main one, and a
 * small one committing asynchronously for rows that can be rebuilt), identity, meters, the client
 * its adapters send commands with, and where the node is in its life.
 */
public record NodeContext(SwitchboardConfig config, Pool pool, Pool relaxedPool, Authenticator authenticator,
                          ClusterManager clusterManager, String nodeId,
                          ConnectionCounts connections, NodeMetrics metrics, CommandClient commands,
                          Lifecycle lifecycle) {
}
