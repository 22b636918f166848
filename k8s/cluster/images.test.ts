// The single-binary OCI archives of images.ts, checked against the OCI image layout spec:
// every blob named by its sha256, the manifest pointing at the config and layer, the layer
// holding the files, the name containerd's importer reads. No root and no containerd needed
// (cluster.test.ts imports them into a real containerd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildScratchImage } from './images.ts';

const dir = mkdtempSync(join(tmpdir(), 'mscr-images-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function extract(archive: string): string {
  const out = mkdtempSync(join(dir, 'x-'));
  execFileSync('tar', ['-C', out, '-xf', archive]);
  return out;
}

const blobPath = (layout: string, digest: string) =>
  join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));

test('writes an OCI layout whose blobs match their digests and whose layer holds the files', () => {
  const binary = join(dir, 'hello');
  writeFileSync(binary, '#!/bin/sh\necho hello\n');
  const archive = buildScratchImage(
    { ref: 'mscr.local/hello:1.0', files: { '/bin/hello': binary }, entrypoint: ['/bin/hello'] },
    join(dir, 'hello.oci.tar'),
  );
  const layout = extract(archive);
  assert.deepEqual(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8')), {
    imageLayoutVersion: '1.0.0',
  });
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const [entry] = index.manifests;
  assert.equal(entry.annotations['io.containerd.image.name'], 'mscr.local/hello:1.0');
  assert.equal(entry.annotations['org.opencontainers.image.ref.name'], '1.0');
  for (const descriptor of [entry]) {
    const data = readFileSync(blobPath(layout, descriptor.digest));
    assert.equal(`sha256:${createHash('sha256').update(data).digest('hex')}`, descriptor.digest);
    assert.equal(data.length, descriptor.size);
  }
  const manifest = JSON.parse(readFileSync(blobPath(layout, entry.digest), 'utf8'));
  const config = JSON.parse(readFileSync(blobPath(layout, manifest.config.digest), 'utf8'));
  assert.deepEqual(config.config.Entrypoint, ['/bin/hello']);
  // An uncompressed layer: its diff_id is its own digest.
  assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0].digest]);
  const layer = blobPath(layout, manifest.layers[0].digest);
  const listing = execFileSync('tar', ['-tvf', layer], { encoding: 'utf8' });
  assert.match(listing, /^-rwxr-xr-x 0\/0 .* \.\/bin\/hello$/m);
  assert.match(listing, /^drwxrwxrwt 0\/0 .* \.\/tmp\/$/m);
});

test('the same files give the same image digest; a changed file rebuilds the archive', () => {
  const binary = join(dir, 'same');
  writeFileSync(binary, 'one');
  const image = { ref: 'mscr.local/same:1', files: { '/same': binary }, entrypoint: ['/same'] };
  const digestOf = (archive: string) =>
    JSON.parse(readFileSync(join(extract(archive), 'index.json'), 'utf8')).manifests[0].digest;
  const first = digestOf(buildScratchImage(image, join(dir, 'a.tar')));
  assert.equal(digestOf(buildScratchImage(image, join(dir, 'b.tar'))), first);
  // Cached: an archive newer than its files is kept as it is.
  const kept = statSync(join(dir, 'a.tar')).mtimeMs;
  buildScratchImage(image, join(dir, 'a.tar'));
  assert.equal(statSync(join(dir, 'a.tar')).mtimeMs, kept);
  writeFileSync(binary, 'two');
  const later = new Date(Date.now() + 5000);
  utimesSync(binary, later, later);
  assert.notEqual(digestOf(buildScratchImage(image, join(dir, 'a.tar'))), first);
});

test('a changed recipe (a file added to the image) rebuilds a cached archive', () => {
  const binary = join(dir, 'tool');
  writeFileSync(binary, 'tool');
  const archive = join(dir, 'recipe.tar');
  const layerFiles = (path: string) => {
    const layout = extract(path);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(blobPath(layout, index.manifests[0].digest), 'utf8'));
    return execFileSync('tar', ['-tf', blobPath(layout, manifest.layers[0].digest)], {
      encoding: 'utf8',
    });
  };
  const one = {
    ref: 'mscr.local/tool:1',
    files: { '/bin/tool': binary },
    entrypoint: ['/bin/tool'],
  };
  buildScratchImage(one, archive);
  assert.doesNotMatch(layerFiles(archive), /bin\/alias/);
  // Same files on disk, one more path in the image: the archive is newer than every file,
  // yet it must be made again.
  buildScratchImage({ ...one, files: { ...one.files, '/bin/alias': binary } }, archive);
  assert.match(layerFiles(archive), /bin\/alias/);
});

test('a missing file is an error naming it, and no archive is left behind', () => {
  const missing = join(dir, 'does-not-exist');
  assert.throws(
    () =>
      buildScratchImage(
        { ref: 'mscr.local/x:1', files: { '/x': missing }, entrypoint: ['/x'] },
        join(dir, 'x.tar'),
      ),
    new RegExp(missing),
  );
  assert.throws(() => statSync(join(dir, 'x.tar')));
});
