// GraphiQL for the hub's /graphql, served from the hub (no CDN). Headers (Authorization,
// Hub-Purpose) are entered in GraphiQL's headers editor.
(function () {
  "use strict";
  var url = window.location.href.split("?")[0];
  var ws = new URL(url);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  ws.hash = "";
  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: ws.toString() });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultHeaders: '{\n  "Authorization": "Bearer <token from hub up>"\n}',
    })
  );
})();
