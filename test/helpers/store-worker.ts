// A separate process hammering one store: argv = DB WORKER COUNT. Bans COUNT addresses in jail
// w<WORKER>, lifting every odd one right after banning it, each in its own transaction.
import { BanStore } from '../../src/store/index.js';

const [path, worker, count] = process.argv.slice(2);
const store = BanStore.open(path!);
const now = 1_800_000_000;
for (let i = 0; i < Number(count); i++) {
  const address = `203.0.${Number(worker)}.${i % 256}`;
  const jail = `w${worker}-${Math.floor(i / 256)}`;
  store.ban({ address, jail, expiresAt: null, source: 'manual' }, now);
  if (i % 2 === 1) store.lift(address, jail, 'unban', now + 1);
}
store.close();
