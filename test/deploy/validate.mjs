// validate.mjs - validates Kubernetes objects (a JSON array on stdin) against the Kubernetes
// OpenAPI JSON schemas shipped by kubernetes-models (and the CRD schemas of prometheus-operator,
// cert-manager and KEDA). Prints one JSON line per object; exit 0 when all are valid, 1 otherwise.
// Unknown fields are not caught here (the schemas allow them): strict_fields.py does that.
const CRD_PACKAGES = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "keda.sh": "@kubernetes-models/keda",
};

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const pkg = CRD_PACKAGES[group] || "kubernetes-models";
  const path = group ? `${pkg}/${group}/${version}/${kind}` : `${pkg}/${version}/${kind}`;
  const mod = await import(path);
  if (!mod[kind]) throw new Error(`${path} has no ${kind}`);
  return mod[kind];
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const objects = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  let bad = 0;
  for (const obj of objects) {
    const id = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata && obj.metadata.name };
    try {
      if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
        throw new Error("apiVersion and kind must be strings");
      const Model = await modelFor(obj.apiVersion, obj.kind);
      new Model(obj).validate();
      console.log(JSON.stringify({ ...id, ok: true }));
    } catch (e) {
      bad++;
      console.log(JSON.stringify({ ...id, ok: false, error: String(e && e.message || e) }));
    }
  }
  process.exit(bad ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(2); });
