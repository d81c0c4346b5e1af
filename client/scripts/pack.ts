/** `npm run pack:client`: builds the client package and writes its tarball; prints its path last. */
import { packClient } from "./pack-client";

const { path } = await packClient();
process.stdout.write(`${path}\n`);
