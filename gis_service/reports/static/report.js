/* Behaviour shared by the map reports: popups and labels, asset markers with filters and search, print.
 * Plain ES5-style code: town office computers may run old browsers. Leaflet and its plugins are inlined in the
 * page before this script; all popup and label HTML arrives escaped from the report builder. */
(function () {
  "use strict";
  var R = (window.GisReport = window.GisReport || {});
  R.layers = {};

  R.register = function (name, layer) {
    R.layers[name] = layer;
  };

  /* onEachFeature of every GeoJSON layer: a popup, and either a permanent label or a hover tooltip. */
  R.bindFeature = function (feature, layer) {
    var p = feature.properties || {};
    if (p.popup) {
      layer.bindPopup(p.popup, { maxWidth: 380 });
    }
    if (p.label) {
      layer.bindTooltip(p.label, {
        permanent: true, direction: "center", interactive: false,
        className: "map-label " + (p.label_class || "")
      });
    } else if (p.tooltip) {
      layer.bindTooltip(p.tooltip, { sticky: true });
    }
  };

  R.init = function (map, options) {
    R.map = map;
    R.options = options;
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    var container = map.getContainer();
    var zoomClass = function () {
      // Minor labels would pile up at town scale; CSS hides them below the detail zoom.
      if (map.getZoom() < options.detailZoom) { L.DomUtil.addClass(container, "zoomed-out"); }
      else { L.DomUtil.removeClass(container, "zoomed-out"); }
    };
    map.on("zoomend", zoomClass);
    zoomClass();
    watchPrint(map);
    R.ready = true;
  };

  /* The print layout gives the map another size: Leaflet must measure it again or it draws into the old box,
   * and what was in view on screen should still be in view on paper. */
  function watchPrint(map) {
    var seen = null;
    var refit = function (printing) {
      if (printing && !seen) { seen = map.getBounds(); }
      map.invalidateSize({ animate: false });
      if (seen) { map.fitBounds(seen, { animate: false }); }
      if (!printing) { seen = null; }
    };
    window.addEventListener("beforeprint", function () { refit(true); });
    window.addEventListener("afterprint", function () { refit(false); });
    if (window.matchMedia) {
      var query = window.matchMedia("print");
      var onChange = function (event) { refit(event.matches); };
      if (query.addEventListener) { query.addEventListener("change", onChange); }
      else if (query.addListener) { query.addListener(onChange); }
    }
  }

  /* ---- assets: markers coloured by use status, a glyph per category, filters, search ---- */

  function element(tag, className, text, parent) {
    var node = L.DomUtil.create(tag, className || "", parent);
    if (text !== undefined) { node.textContent = text; }  // text, never HTML: values come from the ledger
    return node;
  }

  function assetIcon(asset, texts) {
    var idle = asset.s === "idle";
    var size = idle ? 24 : 18;
    return L.divIcon({
      className: "asset-marker status-" + asset.s + (idle ? " asset-idle" : ""),
      html: element("span", "", texts.glyphs[asset.k] || "?"),
      iconSize: [size, size]
    });
  }

  function assetPopup(asset, texts) {
    var box = element("div", "report-popup");
    var title = element("h3", "", asset.n + " ", box);
    element("span", "badge status-" + asset.s, texts.status[asset.s] || asset.s, title);
    var table = element("table", "", undefined, box);
    for (var i = 0; i < texts.fields.length; i++) {
      var row = element("tr", "", undefined, table);
      element("th", "", texts.fields[i], row);
      element("td", "", asset.v[i], row);
    }
    return box;
  }

  function assetMarker(asset, texts) {
    var marker = L.marker([asset.y, asset.x], {
      icon: assetIcon(asset, texts), title: asset.n + " " + asset.c, alt: asset.n,
      search: asset.c + " " + asset.n, asset: asset, zIndexOffset: asset.s === "idle" ? 1000 : 0, riseOnHover: true
    });
    // Built when opened: 282 popups up front would slow the page down for nothing.
    marker.bindPopup(function () { return assetPopup(asset, texts); }, { maxWidth: 380 });
    return marker;
  }

  /* Cluster bubbles show how many assets they hold and, in red, how many of them are idle. */
  R.clusterIcon = function (cluster) {
    var children = cluster.getAllChildMarkers();
    var idle = 0;
    for (var i = 0; i < children.length; i++) {
      if (children[i].options.asset && children[i].options.asset.s === "idle") { idle++; }
    }
    var n = children.length;
    var size = n < 10 ? "small" : (n < 50 ? "medium" : "large");
    var html = '<div data-count="' + n + '"><span>' + n + "</span>" +
      (idle ? '<b class="idle-badge" data-idle="' + idle + '">' + idle + "</b>" : "") + "</div>";
    return L.divIcon({
      html: html, className: "marker-cluster marker-cluster-" + size + (idle ? " has-idle" : ""),
      iconSize: L.point(40, 40)
    });
  };

  function readFilters(inputs) {
    var state = { s: {}, o: {}, k: {} };
    for (var i = 0; i < inputs.length; i++) {
      state[inputs[i].getAttribute("data-filter")][inputs[i].value] = inputs[i].checked;
    }
    return state;
  }

  function passes(state, asset) {
    return state.s[asset.s] !== false && state.o[asset.o] !== false && state.k[asset.k] !== false;
  }

  R.addAssets = function (map, cluster, assets, texts) {
    var markers = assets.map(function (asset) { return assetMarker(asset, texts); });
    var footprints = R.layers.footprints;
    var footprintLayers = footprints ? footprints.getLayers() : [];
    var byCode = {};
    assets.forEach(function (asset) { byCode[asset.c] = asset; });
    // A footprint shares its asset's popup (sent once, with the marker).
    footprintLayers.forEach(function (layer) {
      var asset = byCode[layer.feature.properties.c];
      if (asset) { layer.bindPopup(function () { return assetPopup(asset, texts); }, { maxWidth: 380 }); }
    });
    var inputs = document.querySelectorAll("input[data-filter]");
    var counter = document.querySelector(".shown-count");

    var apply = function () {
      var state = readFilters(inputs);
      var shown = markers.filter(function (m) { return passes(state, m.options.asset); });
      cluster.clearLayers();
      cluster.addLayers(shown);
      footprintLayers.forEach(function (layer) {
        var visible = passes(state, layer.feature.properties);
        if (visible && !footprints.hasLayer(layer)) { footprints.addLayer(layer); }
        if (!visible && footprints.hasLayer(layer)) { footprints.removeLayer(layer); }
      });
      R.shownAssets = shown.length;
      if (counter) { counter.textContent = shown.length + " / " + markers.length; }
    };
    for (var i = 0; i < inputs.length; i++) { inputs[i].addEventListener("change", apply); }
    var buttons = document.querySelectorAll("button[data-filter-all]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].addEventListener("click", function (event) {
        var group = event.currentTarget.getAttribute("data-filter-all");
        var checked = event.currentTarget.getAttribute("data-checked") === "1";
        for (var k = 0; k < inputs.length; k++) {
          if (inputs[k].getAttribute("data-filter") === group) { inputs[k].checked = checked; }
        }
        apply();
      });
    }
    apply();
    R.assetMarkers = markers;
    R.cluster = cluster;
    R.search = addSearch(map, cluster, texts);
  };

  /* leaflet-search over the markers' "search" option ("code name"), matching anywhere in it. A hit may be
   * hidden in a cluster: zoomToShowLayer opens the cluster first, then the popup. */
  function addSearch(map, cluster, texts) {
    var control = new L.Control.Search({
      layer: cluster, propertyName: "search", initial: false, marker: false, collapsed: false,
      position: "topright", textPlaceholder: texts.placeholder, textErr: texts.notFound,
      textCancel: texts.cancel, autoCollapse: false,
      moveToLocation: function (latlng) {
        var marker = latlng.layer;
        cluster.zoomToShowLayer(marker, function () { marker.openPopup(); });
      }
    });
    map.addControl(control);
    return control;
  }
})();
