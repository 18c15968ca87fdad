import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface UploadTarget {
  s3: S3Client;
  bucket: string;
  key: string;
  kmsKeyId?: string;
  queueSize: number;
  partSizeBytes: number;
  metadata?: Record<string, string>;
}

export function serverSideEncryption(kmsKeyId: string | undefined) {
  return kmsKeyId
    ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId }
    : { ServerSideEncryption: 'AES256' as const };
}

/** A CRC32 as S3 writes it: base64 of its four big-endian bytes. */
export function base64Crc32(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

/**
 * The body is not hashed for the signature (SigV4's `UNSIGNED-PAYLOAD`, as the SDK itself signs
 * streams): its integrity is the CRC32 sent with it, which is signed and which S3 checks against
 * the bytes it received; TLS covers the rest. Without this the signer would hash every part with
 * SHA-256 a second time.
 */
function unsignedPayload<Command extends UploadPartCommand | PutObjectCommand>(command: Command): Command {
  (command.middlewareStack as UploadPartCommand['middlewareStack']).add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'vigilUnsignedPayload' },
  );
  return command;
}

const contentType = 'application/vnd.postgresql.custom-dump';

interface FullPart {
  buffer: Buffer;
  sizeBytes: number;
  crc32: number;
  partNumber: number;
}

/**
 * An S3 multipart upload fed from a fixed set of part buffers, reused: at most `queueSize` parts
 * in flight and one being filled, so memory is (queueSize + 1) parts whatever the dump's size, and
 * no part is ever copied or concatenated. Each part goes with the CRC32 its filler computed (S3
 * checks it against the bytes and the SDK computes none of its own). Any request S3 refuses is
 * handed to `onRefused` at once; `abort()` then cancels the parts in flight and aborts the upload.
 */
export class PartUploader {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private readonly waiting: FullPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private uploadId?: Promise<string>;
  private readonly stored: CompletedPart[] = [];
  private readonly cancel = new AbortController();
  private whenSettled?: () => void;
  private stopped = false;

  constructor(
    private readonly target: UploadTarget,
    private readonly onRefused: (error: Error) => void,
    /** A part buffer came back: the filler may take it. */
    private readonly onBufferFree: () => void,
  ) {}

  /** A part buffer to fill: a free one, a new one while fewer than queueSize + 1 exist, else undefined. */
  take(): Buffer | undefined {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.allocated > this.target.queueSize) return undefined;
    this.allocated += 1;
    return Buffer.allocUnsafeSlow(this.target.partSizeBytes);
  }

  /** A full part, sent as soon as fewer than queueSize parts are in flight; its buffer comes back after. */
  enqueue(part: FullPart): void {
    this.waiting.push(part);
    this.sendWaiting();
  }

  /** Resolves once every part enqueued is stored (never while one waits or is in flight). */
  settled(): Promise<void> {
    if (this.waiting.length === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.whenSettled = resolve;
    });
  }

  /** Completes the multipart upload; S3's answer carries its composite CRC32 of what it stored. */
  async complete(): Promise<{ ChecksumCRC32?: string }> {
    const uploadId = await (this.uploadId as Promise<string>);
    const parts = [...this.stored].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    return this.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.target.bucket,
        Key: this.target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  /** A dump that fits in one part, as one PutObject (as lib-storage does): S3 answers its CRC32. */
  async putSingle(body: Buffer, crc32: number): Promise<{ ChecksumCRC32?: string }> {
    return this.send(
      unsignedPayload(
        new PutObjectCommand({
          ...this.objectParams(),
          Body: body,
          ContentLength: body.length,
          ChecksumCRC32: base64Crc32(crc32),
        }),
      ),
    );
  }

  /**
   * Stops the upload: the parts in flight are cancelled and waited for, then the multipart upload
   * is aborted. Resolves with the abort's own refusal, if S3 refused it (the parts then stay until
   * the bucket's lifecycle rule removes incomplete uploads).
   */
  async abort(): Promise<Error | undefined> {
    this.stopped = true;
    this.waiting.length = 0;
    this.cancel.abort();
    await Promise.allSettled([...this.inFlight]);
    if (!this.uploadId) return undefined;
    const uploadId = await this.uploadId.catch(() => undefined);
    if (uploadId === undefined) return undefined;
    try {
      await this.target.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: uploadId }),
      );
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  private objectParams() {
    return {
      Bucket: this.target.bucket,
      Key: this.target.key,
      ContentType: contentType,
      ...serverSideEncryption(this.target.kmsKeyId),
      ...(this.target.metadata ? { Metadata: this.target.metadata } : {}),
    };
  }

  /** One request; a refusal is reported at once, unless this upload was already stopped. */
  private async send<Output>(command: { input: object }, cancellable = false): Promise<Output> {
    try {
      const sent = this.target.s3.send as (command: unknown, options?: { abortSignal: AbortSignal }) => Promise<Output>;
      return await sent.call(this.target.s3, command, cancellable ? { abortSignal: this.cancel.signal } : undefined);
    } catch (error) {
      if (!this.stopped) this.onRefused(error as Error);
      throw error;
    }
  }

  private sendWaiting(): void {
    while (!this.stopped && this.inFlight.size < this.target.queueSize && this.waiting.length > 0) {
      const part = this.waiting.shift() as FullPart;
      const sending: Promise<void> = this.sendPart(part)
        .catch(() => {})
        .finally(() => {
          this.inFlight.delete(sending);
          this.free.push(part.buffer);
          this.onBufferFree();
          this.sendWaiting();
          if (this.waiting.length === 0 && this.inFlight.size === 0) this.whenSettled?.();
        });
      this.inFlight.add(sending);
    }
  }

  private async sendPart(part: FullPart): Promise<void> {
    this.uploadId ??= this.send<{ UploadId?: string }>(
      new CreateMultipartUploadCommand({ ...this.objectParams(), ChecksumAlgorithm: 'CRC32' }),
    ).then(({ UploadId }) => {
      if (!UploadId) throw new Error('S3 answered CreateMultipartUpload without an UploadId');
      return UploadId;
    });
    const uploadId = await this.uploadId;
    if (this.stopped) return;
    const answer = await this.send<{ ETag?: string; ChecksumCRC32?: string }>(
      unsignedPayload(
        new UploadPartCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: uploadId,
          PartNumber: part.partNumber,
          Body: part.buffer.subarray(0, part.sizeBytes),
          ContentLength: part.sizeBytes,
          ChecksumCRC32: base64Crc32(part.crc32),
        }),
      ),
      true,
    );
    if (!answer.ETag) {
      const missing = new Error(`S3 answered part ${part.partNumber} without an ETag`);
      if (!this.stopped) this.onRefused(missing);
      throw missing;
    }
    this.stored.push({
      PartNumber: part.partNumber,
      ETag: answer.ETag,
      ...(answer.ChecksumCRC32 ? { ChecksumCRC32: answer.ChecksumCRC32 } : {}),
    });
  }
}
