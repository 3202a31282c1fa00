// Reads what the ORT peer scripts need from an ONNX file with just enough of the protobuf
// wire format: op counts, the node writing a graph output, float initializers.
'use strict';
const fs = require('fs');

function varint(buf, pos) {
  let v = 0; let mul = 1;
  for (;;) {
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

function fields(buf, start, end, visit) {
  let pos = start;
  while (pos < end) {
    let key; [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8); const wire = key & 7;
    if (wire === 0) { [, pos] = varint(buf, pos); } else if (wire === 1) { pos += 8; } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let len; [len, pos] = varint(buf, pos);
      visit(field, pos, pos + len);
      pos += len;
    } else { throw new Error(`unsupported wire type ${wire}`); }
  }
}

// ModelProto.graph (7) -> GraphProto.node (1): op_type (4), domain (7), input (1), output (2).
function graphOf(file) {
  const buf = fs.readFileSync(file);
  const nodes = []; const initializers = {}; const outputs = [];
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 7) return;
    fields(buf, s, e, (gf, gs, ge) => {
      if (gf === 1) {
        const n = { op: '', domain: '', inputs: [], outputs: [] };
        fields(buf, gs, ge, (nf, ns, ne) => {
          const str = buf.toString('utf8', ns, ne);
          if (nf === 1) n.inputs.push(str);
          if (nf === 2) n.outputs.push(str);
          if (nf === 4) n.op = str;
          if (nf === 7) n.domain = str;
        });
        nodes.push(n);
      } else if (gf === 5) {  // TensorProto: name (8), data_type (2), raw_data (9)
        let name = ''; let raw = null;
        fields(buf, gs, ge, (tf, ts, te) => {
          if (tf === 8) name = buf.toString('utf8', ts, te);
          if (tf === 9) raw = buf.subarray(ts, te);
        });
        initializers[name] = raw;
      } else if (gf === 12) {  // ValueInfoProto: name (1)
        fields(buf, gs, ge, (vf, vs, ve) => { if (vf === 1) outputs.push(buf.toString('utf8', vs, ve)); });
      }
    });
  });
  return { nodes, initializers, outputs };
}

function countOps(file) {
  const buf = fs.readFileSync(file);
  const counts = {};
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 7) return;  // graph
    fields(buf, s, e, (gf, gs, ge) => {
      if (gf !== 1) return;  // node
      let op = ''; let domain = '';
      fields(buf, gs, ge, (nf, ns, ne) => {
        if (nf === 4) op = buf.toString('utf8', ns, ne);
        if (nf === 7) domain = buf.toString('utf8', ns, ne);
      });
      const key = domain && domain !== 'ai.onnx' ? `${domain}:${op}` : op;
      counts[key] = (counts[key] || 0) + 1;
    });
  });
  return counts;
}

module.exports = { countOps, graphOf };
