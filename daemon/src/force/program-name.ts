/** The force program's name and description (main.ts and the fleet view's own start share them). */
export const FORCE_PROGRAM = {
  name: 'hindsight-force',
  description:
    'Hindsight at the police force: keys, enrollment of boxes, broker kit, evidence receiver, verification, triage, custody gallery, candidate lists, search, the fleet',
} as const;
