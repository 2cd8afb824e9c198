/** A self-contained page listing the API for people; it loads nothing from elsewhere. */

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  requestBody?: unknown;
  responses?: Record<string, { description?: string }>;
}

export function docsPage(document: {
  info: { title: string; version: string; description?: string };
  paths?: object;
}): string {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  const sections = Object.entries(paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, op]) => {
      const responses = Object.entries(op.responses ?? {})
        .map(([status, response]) => `<li><code>${status}</code> ${escape(response.description ?? '')}</li>`)
        .join('');
      return `<section id="${escape(op.operationId ?? '')}">
  <h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
  <p>${escape(op.summary ?? '')}</p><p class="d">${escape(op.description ?? '')}</p>
  <ul>${responses}</ul>
</section>`;
    })
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(document.info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f4f4f4;padding:0 .25rem}section{border-top:1px solid #ddd;padding:.5rem 0}
.m{display:inline-block;min-width:4.5rem;font-size:.8rem;padding:.1rem .4rem;border-radius:3px;color:#fff;background:#555}
.get{background:#2b7}.post{background:#27b}.put{background:#b72}.patch{background:#a5b}.delete{background:#c33}.d{color:#666}</style>
</head><body><h1>${escape(document.info.title)} <small>${escape(document.info.version)}</small></h1>
<p>${escape(document.info.description ?? '')}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
${sections.join('\n')}
</body></html>`;
}
