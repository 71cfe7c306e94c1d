// Validates every document of a multi-document YAML stream (stdin, or the files named as arguments) against the
// Kubernetes API schema of kubernetes-models (the OpenAPI schema of Kubernetes, pinned in package-lock.json).
// Each document is looked up by apiVersion/kind; an unknown apiVersion/kind is an error, not a pass.
// Prints one line per document ("ok Kind/name" or "invalid Kind/name: reason") and exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const text = process.argv.length > 2
  ? process.argv.slice(2).map((file) => readFileSync(file, "utf8")).join("\n---\n")
  : readFileSync(0, "utf8");

let failures = 0;
let validated = 0;
for (const document of parseAllDocuments(text)) {
  if (document.errors.length > 0) {
    console.log(`invalid YAML: ${document.errors.map((e) => e.message).join("; ")}`);
    failures++;
    continue;
  }
  const object = document.toJS();
  if (object === null || object === undefined) {
    continue;
  }
  const name = `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
  try {
    if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
      throw new Error("apiVersion and kind are required");
    }
    // "v1" is the core group; "apps/v1", "rbac.authorization.k8s.io/v1", ... are groups with a version.
    const module = `kubernetes-models/${object.apiVersion}/${object.kind}`;
    let model;
    try {
      model = await import(module);
    } catch (error) {
      if (error.code === "ERR_MODULE_NOT_FOUND" || error.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
        throw new Error(`unknown apiVersion/kind ${object.apiVersion}/${object.kind}`);
      }
      throw error;
    }
    const Model = model[object.kind];
    if (typeof Model !== "function") {
      throw new Error(`unknown apiVersion/kind ${object.apiVersion}/${object.kind}`);
    }
    new Model(object).validate();
    validated++;
    console.log(`ok ${object.apiVersion} ${name}`);
  } catch (error) {
    failures++;
    console.log(`invalid ${object.apiVersion} ${name}: ${error.message.replace(/\s+/g, " ")}`);
  }
}
console.log(`${validated} valid, ${failures} invalid`);
process.exit(failures > 0 || validated === 0 ? 1 : 0);
