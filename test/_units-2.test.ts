// The module tests of test/helpers/unit-groups.ts's second group, in this one process.
import { runGroup } from './helpers/unit-groups.js';

await runGroup(2);
