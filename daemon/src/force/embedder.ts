import type { ProbeEmbedder } from './search.js';

/**
 * The one place `force search --image` gets its face embedder: the boxes' own pipeline (detect, align,
 * embed the best face of the photo), so probe and stored embeddings come from the same model.
 * Until the vision pipeline is part of this build there is none, and search takes `--embedding` only.
 * Wiring: return an object whose `embedProbe(file)` runs the vision module's photo analysis and returns
 * the embedding of the best accepted face, and whose `model` is the embedder model name the boxes
 * write into packages (`embeddings.model`).
 */
export async function loadProbeEmbedder(): Promise<ProbeEmbedder | undefined> {
  return undefined;
}
