// A process that takes the firewall lock of the database argv[2], says "held", and keeps it until it is killed.
import { firewallLock } from '../../src/store/index.js';

await firewallLock(process.argv[2]!)(async () => {
  process.stdout.write('held\n');
  await new Promise(() => setInterval(() => undefined, 60_000));
});
