import type ort from 'onnxruntime-node';
import { squareForLandmarks, type Box, type Point } from './geometry.js';
import { sampleRegion, type Pyramid } from './image.js';
import { runSingle, tensor } from './models.js';

const LM_SIZE = 64;

/**
 * 68 iBUG landmarks of the face in `box`, in frame coordinates. The model sees the square of side = box
 * height around the box centre as a 64x64 grey image, (0.299R + 0.587G + 0.114B) / 256.
 */
export async function landmarks68(session: ort.InferenceSession, pyramid: Pyramid, box: Box): Promise<Point[]> {
  const sq = squareForLandmarks(box, pyramid.width, pyramid.height);
  const side = sq[2] - sq[0];
  const img = sampleRegion(pyramid, { x: sq[0], y: sq[1], width: side, height: side }, LM_SIZE, LM_SIZE);
  const input = new Float32Array(LM_SIZE * LM_SIZE);
  const d = img.data;
  for (let i = 0, p = 0; i < input.length; i++, p += 3) input[i] = (0.299 * d[p]! + 0.587 * d[p + 1]! + 0.114 * d[p + 2]!) / 256;
  const out = await runSingle(session, tensor(input, [1, 1, LM_SIZE, LM_SIZE]));
  const points: Point[] = [];
  for (let i = 0; i < 68; i++) points.push([sq[0] + out[2 * i]! * side, sq[1] + out[2 * i + 1]! * side]);
  return points;
}
