import sharp from 'sharp';
import { HindsightError } from '../util/errors.js';
import type { RgbImage } from './image.js';

// one libvips thread: the box's cores go to the models and ffmpeg, and memory per decode stays small
sharp.concurrency(1);
sharp.cache(false);

/**
 * Decode a still image (JPEG, PNG, WebP, TIFF...) to RGB, honouring EXIF orientation. Images above
 * `maxPixels` are refused before their pixels are decoded, so a 10000x10000 file cannot exhaust memory.
 * With `bytes`, those are decoded (already read from `file`, which then only names it in messages).
 */
export async function readImageFile(file: string, maxPixels: number, bytes?: Buffer): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes ?? file, { limitInputPixels: maxPixels, failOn: 'error' })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' }) // 16-bit PNG/TIFF come out as 8-bit like everything else
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: toRgb(new Uint8Array(data.buffer, data.byteOffset, data.length), info.channels) };
  } catch (err) {
    throw imageError(file, err, maxPixels);
  }
}

function toRgb(data: Uint8Array, channels: number): Uint8Array {
  if (channels === 3) return data;
  const n = data.length / channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = data[i * channels]!;
    out[3 * i] = v;
    out[3 * i + 1] = channels >= 3 ? data[i * channels + 1]! : v;
    out[3 * i + 2] = channels >= 3 ? data[i * channels + 2]! : v;
  }
  return out;
}

function imageError(file: string, err: unknown, maxPixels: number): HindsightError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) {
    return new HindsightError(`${file}: image is larger than ${maxPixels} pixels`, {
      code: 'image_too_large',
      hint: 'scale it down first, or raise vision.max_image_pixels',
    });
  }
  if (/ENOENT|no such file/i.test(msg) || /Input file is missing/i.test(msg)) {
    return new HindsightError(`${file}: no such file`, { code: 'image_missing', hint: 'check the path' });
  }
  return new HindsightError(`${file}: not a readable image (${msg.split('\n')[0]})`, { code: 'image_unreadable', hint: 'give a JPEG, PNG, WebP or TIFF file' });
}

/** JPEG bytes of an RGB image. */
export async function encodeJpeg(img: RgbImage, quality: number): Promise<Buffer> {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality, mozjpeg: false })
    .toBuffer();
}

/** PNG bytes (lossless; for the aligned face, which is what the embedding was computed from). */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
