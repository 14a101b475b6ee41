export { startFleet, type Fleet, type FleetOptions } from './fleet.js';
export { fleetStatus, type FleetStatus } from './status.js';
export { fleetName, connect } from './connection.js';
export { migrateFleet, type FleetMigrationReport } from './migrations.js';
export { FleetEvents, type FleetHost, type PulledEvent } from './events.js';
export { pushChanges, pushBacklog, PUSH_READER, type PushStore } from './pusher.js';
export { pullEvents, type FleetJails, type PullStore, type PullReport } from './puller.js';
