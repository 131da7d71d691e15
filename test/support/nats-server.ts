/** Tests start nats-server with the same launcher `conclave up` uses. */
export {
  findNatsServer,
  type NatsServerHandle,
  NatsServerMissingError,
  startNatsServer,
} from "../../coordinator/src/up/nats-server.js";
