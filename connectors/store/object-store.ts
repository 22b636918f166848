/**
 * The smallest storage surface a model store needs. One adapter per backend (local folder,
 * S3, GCS); everything about versions, manifests, checksums and aliases is written once, in
 * `model-store.ts`, on top of this, so all backends behave the same.
 *
 * Keys are `/`-separated relative paths such as `cifar10-cnn/3/model.json`. Every adapter
 * refuses, with `MscrError('bad_request')`, a key that is empty, absolute, has an empty,
 * `.` or `..` segment, or contains a backslash or NUL: no key can leave the store's root.
 */
export interface ObjectStore {
  /** The store's root URI, e.g. `file:///srv/models`, `s3://bucket/prefix`. */
  readonly uri: string;
  /** The whole object. Throws `MscrError('not_found')` when it does not exist. */
  get(key: string): Promise<Uint8Array>;
  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Writes (or replaces) an object; readers never see a partly written object. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Creates the object only if it does not exist yet; false when another writer had it. */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  /**
   * Direct children under a prefix ending in `/` (`''` is the root), as names relative to the
   * prefix, sorted: objects (`model.json`) and sub-prefixes ending in `/` (`3/`). A missing
   * prefix lists as empty. Adapters hide their own temporary objects.
   */
  list(prefix: string): Promise<{ objects: string[]; prefixes: string[] }>;
  /** Removes an object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
}
