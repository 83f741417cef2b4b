/** Ajv's findings about a request, as the JSON Schema validator reports them. */
export interface ValidationIssue {
  instancePath?: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * Ajv's findings in words a person can act on: the field by its name (not "body/..."), and what it may be
 * ("reason must be one of: theft, violence...", "before_s must be at most 600").
 */
export function describeValidation(issues: ValidationIssue[]): string {
  const words = issues.slice(0, 5).map((i) => {
    const field = (i.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') || String(i.params.missingProperty ?? i.params.additionalProperty ?? 'the request');
    const p = i.params;
    switch (i.keyword) {
      case 'enum':
        return `${field} must be one of: ${(p.allowedValues as unknown[]).join(', ')}`;
      case 'maximum':
        return `${field} must be at most ${String(p.limit)}`;
      case 'minimum':
        return `${field} must be at least ${String(p.limit)}`;
      case 'maxLength':
        return `${field} is longer than ${String(p.limit)} characters`;
      case 'minLength':
        return `${field} must not be empty`;
      case 'maxItems':
        return `${field} has more than ${String(p.limit)} entries`;
      case 'minItems':
        return `${field} needs at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}`;
      case 'required':
        return `${String(p.missingProperty)} is missing`;
      case 'additionalProperties':
        return `${String(p.additionalProperty)} is not a known field`;
      case 'type':
        return `${field} must be ${p.type === 'integer' ? 'a whole number' : p.type === 'string' ? 'text' : `a${/^[aeiou]/.test(String(p.type)) ? 'n' : ''} ${String(p.type)}`}`;
      case 'pattern':
        return `${field} has characters or a form that is not allowed`;
      default:
        return `${field} ${i.message ?? 'is not valid'}`;
    }
  });
  return [...new Set(words)].join('; ');
}
