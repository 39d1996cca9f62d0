/**
 * The web mapping debugger: edit device and FHIR destination mappings with live validation, run test events through
 * the real pipeline, see the measurements and the resulting Observations. Plain HTML, CSS and one JavaScript module
 * (`static/`, served from the source tree: no framework, no build step, no external resource).
 *
 * Mount {@link createDebuggerHandler} on a server (the local stack does, on 127.0.0.1:7071), or run it alone with
 * {@link startDebuggerServer} (`iomt debugger`, port 7072).
 */
export * from './debugger-handler';
export * from './debugger-server';
