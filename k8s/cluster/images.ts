/**
 * Container images made here without a registry or a builder: an OCI image layout with one
 * layer holding static binaries, packed as the archive `ctr images import` reads. Used for the
 * sandbox (pause) image, the CoreDNS and metrics-server add-ons and the busybox test image.
 * The project's own image comes from scripts/build-images.mjs (buildah); this is only for
 * single-binary images.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { chmodSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { must } from './host.ts';

export interface ScratchImage {
  /** Full reference, e.g. `mscr.local/pause:3.10`. */
  ref: string;
  /** Files of the image: absolute path inside the image -> file on the host. */
  files: Record<string, string>;
  entrypoint: string[];
  cmd?: string[];
  env?: string[];
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A tar of `dir` with fixed owners and times, so the same files give the same digest. */
function tarOf(dir: string, out: string, entries: string[]): void {
  const fixed = ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name'];
  must('tar', ['-C', dir, ...fixed, '-cf', out, ...entries]);
}

/**
 * Writes the image as an OCI archive to `archive` (skipped when it exists and is newer than
 * every file of the image) and returns the archive's path.
 */
export function buildScratchImage(image: ScratchImage, archive: string): string {
  const newest = Math.max(...Object.values(image.files).map((f) => statSync(f).mtimeMs));
  // The archive is current when it is newer than its files and was made from this recipe
  // (a file added to an image must rebuild it too).
  const recipe = `${archive}.recipe.json`;
  const wanted = JSON.stringify(image);
  const sameRecipe = existsSync(recipe) && readFileSync(recipe, 'utf8') === wanted;
  if (sameRecipe && existsSync(archive) && statSync(archive).mtimeMs > newest) return archive;
  mkdirSync(dirname(archive), { recursive: true });
  const work = mkdtempSync(`${archive}.work-`);
  try {
    const rootfs = join(work, 'rootfs');
    for (const [inside, host] of Object.entries(image.files)) {
      const target = join(rootfs, inside);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(host, target);
      chmodSync(target, 0o755);
    }
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    const layerTar = join(work, 'layer.tar');
    tarOf(rootfs, layerTar, ['.']);
    const layer = readFileSync(layerTar);
    const layout = join(work, 'oci');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const blob = (data: Buffer) => {
      const digest = sha256(data);
      writeFileSync(join(blobs, digest), data);
      return { digest: `sha256:${digest}`, size: data.length };
    };
    const layerBlob = blob(layer);
    const config = blob(
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: {
            Entrypoint: image.entrypoint,
            ...(image.cmd ? { Cmd: image.cmd } : {}),
            Env: image.env ?? ['PATH=/bin:/usr/bin'],
          },
          rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
          history: [{ created_by: 'mscr k8s/cluster/images.ts' }],
        }),
      ),
    );
    const manifest = blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerBlob }],
        }),
      ),
    );
    const tag = image.ref.slice(image.ref.lastIndexOf(':') + 1);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifest,
            platform: { architecture: 'amd64', os: 'linux' },
            annotations: {
              'io.containerd.image.name': image.ref,
              'org.opencontainers.image.ref.name': tag,
            },
          },
        ],
      }),
    );
    tarOf(layout, `${archive}.tmp`, ['oci-layout', 'index.json', 'blobs']);
    renameSync(`${archive}.tmp`, archive);
    writeFileSync(recipe, wanted);
    return archive;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Compiles pause.c (static) into `dir` unless it is there and newer than the source. */
export function buildPause(dir: string): string {
  const source = join(import.meta.dirname, 'pause.c');
  const out = join(dir, 'pause');
  if (existsSync(out) && statSync(out).mtimeMs > statSync(source).mtimeMs) return out;
  mkdirSync(dir, { recursive: true });
  must('gcc', ['-static', '-O2', '-s', '-o', `${out}.tmp`, source]);
  renameSync(`${out}.tmp`, out);
  return out;
}

export const PAUSE_IMAGE = 'mscr.local/pause:3.10';
export const COREDNS_IMAGE = 'mscr.local/coredns:v1.15.0';
export const METRICS_SERVER_IMAGE = 'mscr.local/metrics-server:v0.9.0';
export const BUSYBOX_IMAGE = 'mscr.local/busybox:1.35';

/**
 * `/bin/wget` of the busybox test image: Debian's busybox 1.35 (the host's, copied into the
 * image) is built without FEATURE_WGET_TIMEOUT and crashes on `-T` (Debian fixed that in
 * 1.36.1-5); this shell script hands `-T N` to busybox's `timeout` instead. Written only when
 * it changed, so that the cached image stays current.
 */
const WGET_SHIM = `#!/bin/sh
# wget of the cluster's busybox test image. Debian's busybox 1.35 is built without
# FEATURE_WGET_TIMEOUT and crashes on -T (fixed in Debian's 1.36.1-5); the chart's helm
# test pod passes -T as busybox:1.37 accepts it, so -T N becomes busybox's timeout N here.
t=
n=$#
i=0
while [ "$i" -lt "$n" ]; do
  a=$1
  shift
  i=$((i + 1))
  if [ "$a" = -T ]; then
    t=$1
    shift
    i=$((i + 1))
    continue
  fi
  set -- "$@" "$a"
done
if [ -n "$t" ]; then exec /bin/busybox timeout "$t" /bin/busybox wget "$@"; fi
exec /bin/busybox wget "$@"
`;

function wgetShim(dir: string): string {
  const file = join(dir, 'busybox-wget.sh');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== WGET_SHIM) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, WGET_SHIM, { mode: 0o755 });
  }
  return file;
}

/** The single-binary images of the cluster, built into `dir` (cached); archive paths by ref. */
export function buildClusterImages(dir: string, binDir: string): Record<string, string> {
  const pause = buildPause(dir);
  const images: ScratchImage[] = [
    { ref: PAUSE_IMAGE, files: { '/pause': pause }, entrypoint: ['/pause'] },
    {
      ref: COREDNS_IMAGE,
      files: { '/coredns': join(binDir, 'coredns') },
      entrypoint: ['/coredns'],
    },
    {
      ref: METRICS_SERVER_IMAGE,
      files: { '/metrics-server': join(binDir, 'metrics-server') },
      entrypoint: ['/metrics-server'],
    },
    {
      ref: BUSYBOX_IMAGE,
      // wget for the chart's `helm test` pod, which runs `wget -T 10` as busybox:1.37 has it.
      files: {
        '/bin/busybox': '/bin/busybox',
        '/bin/sh': '/bin/busybox',
        '/bin/wget': wgetShim(dir),
      },
      entrypoint: ['/bin/busybox'],
      cmd: ['sh'],
    },
  ];
  return Object.fromEntries(
    images.map((image) => {
      const file = `${image.ref.replace(/[/:]/g, '_')}.oci.tar`;
      return [image.ref, buildScratchImage(image, join(dir, file))];
    }),
  );
}
