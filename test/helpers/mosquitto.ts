export { TestBroker, startBroker, makeTestPki, type BrokerOptions, type BrokerUser } from '../../daemon/src/devkit/broker.js';
