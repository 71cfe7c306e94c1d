// Prints a multi-document YAML stream (stdin) as one JSON array, for tests that read rendered manifests
// (tests/UNetCluster.Deploy.Tests). Empty documents are left out.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const objects = [];
for (const document of parseAllDocuments(readFileSync(0, "utf8"))) {
  if (document.errors.length > 0) {
    console.error(document.errors.map((e) => e.message).join("; "));
    process.exit(1);
  }
  const object = document.toJS();
  if (object !== null && object !== undefined) {
    objects.push(object);
  }
}
process.stdout.write(JSON.stringify(objects));
