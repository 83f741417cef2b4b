import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import type { Db } from '../../db/db.js';
import { WebError } from '../../https/error.js';
import { FilesRepo } from '../db/files.js';
import { SubjectsRepo } from '../db/subjects.js';

/** A face picture of a stored incident: one of a subject's crops, or one of the incident's context frames. */
export interface FacePicture {
  name: string;
  kind: 'crop' | 'context';
  /** The subject whose crop it is (none for a context frame). */
  subjectId?: string;
  sha256: string;
  path: string;
}

/** How many crops of a subject the console shows: its best ones, as the case report does. */
export const CROPS_SHOWN = 3;
const CONTEXT = /^context_\d+\.jpg$/;

/**
 * The pictures of a stored incident the console may show: its subjects' crops (the box lists them per
 * subject, best first) and its context frames. Nothing else of the package (clips, embeddings,
 * documents) is ever served.
 */
export class FacePictures {
  private readonly files: FilesRepo;
  private readonly subjects: SubjectsRepo;

  constructor(db: Db) {
    this.files = new FilesRepo(db);
    this.subjects = new SubjectsRepo(db);
  }

  /** Each subject's best crops, and the incident's context frames, by file name. */
  names(envelopeId: string): { crops: Map<string, string[]>; context: string[] } {
    const crops = new Map(this.subjects.ofEnvelope(envelopeId).map((s) => [s.subjectId, s.crops.slice(0, CROPS_SHOWN)]));
    const context = this.files.ofEnvelope(envelopeId).map((f) => f.name).filter((n) => CONTEXT.test(n)).sort();
    return { crops, context };
  }

  /** One picture of the incident by its file name, or a 404 for anything else. */
  picture(envelopeId: string, name: string): FacePicture {
    const { crops, context } = this.names(envelopeId);
    const subjectId = [...crops].find(([, names]) => names.includes(name))?.[0];
    const file = subjectId !== undefined || context.includes(name) ? this.files.ofEnvelope(envelopeId).find((f) => f.name === name) : undefined;
    if (!file) throw new WebError(404, 'no such picture in this incident', { code: 'not_found' });
    return { name, kind: subjectId === undefined ? 'context' : 'crop', ...(subjectId === undefined ? {} : { subjectId }), sha256: file.sha256, path: file.path };
  }
}

/** Where the console serves a picture of an incident: under triage (supervisors) or its case (reviewers). */
export function pictureUrl(area: 'triage' | 'cases', envelopeId: string, name: string): string {
  return `/api/v1/${area}/${encodeURIComponent(envelopeId)}/images/${encodeURIComponent(name)}`;
}

const TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png' };

/** Answer with an image file (never cached: every look is a new, audited request). */
export function sendImage(reply: FastifyReply, file: string): FastifyReply {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new WebError(404, 'the picture is no longer there', { code: 'gone' });
  }
  return reply.type(TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream').header('cache-control', 'no-store').send(bytes);
}
