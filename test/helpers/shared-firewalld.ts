import { after } from 'node:test';
import { startPrivateFirewalld, type PrivateFirewalld } from './firewalld.js';

/** One private firewalld for the test file that uses it (it takes long to start), stopped when the file's tests end. */
let started: Promise<PrivateFirewalld> | undefined;
const savedBus = process.env.DBUS_SYSTEM_BUS_ADDRESS;
export async function sharedFirewalld(): Promise<PrivateFirewalld> {
  started ??= startPrivateFirewalld();
  const fw = await started;
  // firewall-cmd finds firewalld on the system bus; every command the backend runs goes to the private one.
  process.env.DBUS_SYSTEM_BUS_ADDRESS = fw.busAddress;
  return fw;
}
after(async () => {
  if (savedBus === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
  else process.env.DBUS_SYSTEM_BUS_ADDRESS = savedBus;
  await (await started)?.stop();
});

