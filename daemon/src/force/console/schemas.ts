import { Type } from '@sinclair/typebox';

/** Every request schema of the console is closed: an unknown field is refused, never dropped. */
export const closed = { additionalProperties: false } as const;
export const Name = Type.String({ minLength: 1, maxLength: 64 });
/** Account, envelope, incident, subject and photo ids. */
export const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$' });
/** A file of a stored package (crop_s0_1.jpg, context_0.jpg). */
export const FileName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+\\.(jpg|jpeg|png)$' });
/** Why, in words (the workbench wants at least three). */
export const Reason = Type.String({ minLength: 1, maxLength: 2000 });
