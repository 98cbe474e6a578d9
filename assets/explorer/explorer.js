// Starts GraphiQL against this server's /graphql. A signed-in browser sends its session cookie
// (same origin); a PAT can be sent instead from the headers editor: {"X-Api-Key": "ba_..."}.
// `?query=` prefills the editor.
(function () {
  var params = new URLSearchParams(window.location.search);
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      query: params.get('query') || undefined,
      defaultQuery: '# Signed in? Run this. With a PAT, add {"X-Api-Key": "ba_..."} under Headers.\n{\n  me {\n    email\n  }\n}\n',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
