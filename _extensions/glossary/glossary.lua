--[[
glossary.lua -- book-wide glossary shortcodes for Quarto.

Shortcodes (author syntax compatible with debruine/quarto-glossary):

  {{< glossary term >}}
  {{< glossary "multi word term" >}}
  {{< glossary "multi word term" display="text to show" >}}
  {{< glossary-page >}}

Terms are looked up case-insensitively in `glossary.yml` at the project root
(see README.md in this folder for the schema and the lookup rules).

Everything that the tests exercise lives in this file: the returned table holds
the two shortcode handlers, and the same module is reachable (for the test
harness only) as `handlers._internal`, through a metatable so that Quarto, which
registers every key it finds with pairs(), only sees the two shortcodes.
]]

local M = {}

local PREFIX = "[glossary] "
local DEFAULT_FILE = "glossary.yml"
local DEFAULT_PAGE = "glossary.html"
local DEPENDENCY_VERSION = "1.0.0"

-- Definitions are markdown, but raw HTML/TeX and footnotes are switched off:
-- a stray `<b>` or `\emph{` in a definition is shown literally instead of
-- leaking into (and breaking) the HTML popup or the LaTeX output.
M.READER_FORMAT = "markdown-raw_html-raw_tex-raw_attribute-footnotes-inline_notes"

local ALLOWED_KEYS = { term = true, aliases = true, definition = true }

---------------------------------------------------------------------------
-- small helpers
---------------------------------------------------------------------------

local function fail(msg)
  error(PREFIX .. msg, 0)
end

local function warn(msg)
  if quarto and quarto.log and quarto.log.warning then
    quarto.log.warning(PREFIX .. msg)
  else
    io.stderr:write(PREFIX .. msg .. "\n")
  end
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Turn whatever Quarto hands us (string, Inlines, Blocks, MetaValue) into a
-- plain string.
local function str(v)
  if v == nil then
    return ""
  end
  if type(v) == "string" then
    return v
  end
  if type(v) == "boolean" or type(v) == "number" then
    return tostring(v)
  end
  return pandoc.utils.stringify(v)
end

local function lower(s)
  if pandoc.text and pandoc.text.lower then
    return pandoc.text.lower(s)
  end
  return s:lower()
end

-- plain (non-pattern) replacement of every occurrence of `a` by `b`
local function replace_all(s, a, b)
  local out, pos = {}, 1
  while true do
    local i, j = s:find(a, pos, true)
    if not i then
      break
    end
    out[#out + 1] = s:sub(pos, i - 1)
    out[#out + 1] = b
    pos = j + 1
  end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

-- Quarto usually strips the quotes around shortcode arguments, but not in
-- every context (quarto-dev/quarto-cli#7882), so strip matching quotes here.
local function strip_quotes(s)
  s = trim(s)
  local first, last = s:sub(1, 1), s:sub(-1)
  if #s >= 2 and first == last and (first == '"' or first == "'") then
    return trim(s:sub(2, -2))
  end
  return s
end

local function html_escape(s)
  s = s:gsub("&", "&amp;")
  s = s:gsub("<", "&lt;")
  s = s:gsub(">", "&gt;")
  s = s:gsub('"', "&quot;")
  s = s:gsub("'", "&#39;")
  return s
end
M.html_escape = html_escape

local function file_exists(path)
  local f = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  return false
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local content = f:read("a")
  f:close()
  return content
end

local function is_format(name)
  if quarto and quarto.doc then
    local f = quarto.doc.is_format or quarto.doc.isFormat
    if f then
      return f(name)
    end
  end
  local fmt = FORMAT or ""
  if name == "html:js" then
    return fmt:match("^html") ~= nil or fmt == "revealjs"
  elseif name == "html" then
    return fmt:match("^html") ~= nil or fmt:match("^epub") ~= nil or fmt == "revealjs"
  elseif name == "latex" or name == "pdf" then
    return fmt == "latex" or fmt == "beamer" or fmt == "pdf"
  end
  return fmt == name
end
M.is_format = is_format

---------------------------------------------------------------------------
-- keys, slugs, sorting
---------------------------------------------------------------------------

-- Characters folded before comparing terms: typographic apostrophes become
-- ASCII ones, quotes vanish, every kind of hyphen/dash becomes a space.
local FOLDS = {
  { "\u{2019}", "'" }, { "\u{2018}", "'" }, { "\u{02BC}", "'" }, { "`", "'" },
  { "\u{201C}", "" }, { "\u{201D}", "" }, { '"', "" },
  { "\u{2010}", " " }, { "\u{2011}", " " }, { "\u{2012}", " " },
  { "\u{2013}", " " }, { "\u{2014}", " " }, { "-", " " }, { "_", " " },
  { "\u{00A0}", " " },
}

--- Lookup key of a term: case-folded, dashes as spaces, whitespace collapsed.
function M.normalise(s)
  s = lower(str(s))
  for _, fold in ipairs(FOLDS) do
    s = replace_all(s, fold[1], fold[2])
  end
  s = s:gsub("%s+", " ")
  return trim(s)
end

--- Stable anchor id of an entry: "term-" followed by an ASCII slug.
function M.slugify(term)
  local s = lower(str(term))
  s = replace_all(s, "\u{2019}", "")
  s = s:gsub("'", "")
  s = s:gsub("[^%w]+", "-")
  s = s:gsub("^%-+", ""):gsub("%-+$", "")
  if s == "" then
    s = "entry"
  end
  return "term-" .. s
end

function M.sort_key(term)
  local key = M.normalise(term)
  key = key:gsub("^[^%w]+", "")
  return key
end

-- Spelling variants that only add or drop a plural ending.
local function plural_variants(key)
  local out = {}
  if key:sub(-3) == "ies" then
    out[#out + 1] = key:sub(1, -4) .. "y"
  end
  if key:sub(-2) == "es" then
    out[#out + 1] = key:sub(1, -3)
  end
  if key:sub(-1) == "s" then
    out[#out + 1] = key:sub(1, -2)
  end
  out[#out + 1] = key .. "s"
  out[#out + 1] = key .. "es"
  if key:sub(-1) == "y" then
    out[#out + 1] = key:sub(1, -2) .. "ies"
  end
  return out
end

local function is_plural_variant(a, b)
  for _, v in ipairs(plural_variants(M.normalise(a))) do
    if v == M.normalise(b) then
      return true
    end
  end
  return false
end
M.is_plural_variant = is_plural_variant

---------------------------------------------------------------------------
-- options and paths
---------------------------------------------------------------------------

-- Read `glossary.<key>` from document/project metadata. Quarto's `meta`
-- proxy understands dotted keys; a plain pandoc Meta needs the nested lookup.
local function meta_option(meta, key)
  if meta == nil then
    return nil
  end
  local ok, v = pcall(function()
    return meta["glossary." .. key]
  end)
  if ok and v ~= nil and str(v) ~= "" then
    return str(v)
  end
  ok, v = pcall(function()
    local g = meta["glossary"]
    if type(g) == "table" then
      return g[key]
    end
    return nil
  end)
  if ok and v ~= nil and str(v) ~= "" then
    return str(v)
  end
  return nil
end
M.meta_option = meta_option

local function project_directory()
  if quarto and quarto.project and quarto.project.directory
      and quarto.project.directory ~= "" then
    return quarto.project.directory
  end
  return nil
end

local function input_file()
  if quarto and quarto.doc and quarto.doc.input_file and quarto.doc.input_file ~= "" then
    return quarto.doc.input_file
  end
  return nil
end

--- Path of the glossary file: meta `glossary.path` if set (relative to the
--- project root), else `glossary.yml` in the project root, else in the working
--- directory or one of its parents, else next to the input file or above it.
function M.find_glossary_file(meta)
  local cwd = pandoc.system.get_working_directory()
  local base = project_directory() or cwd
  local override = meta_option(meta, "path")
  if override then
    local p = override
    if not pandoc.path.is_absolute(p) then
      p = pandoc.path.join({ base, p })
    end
    if file_exists(p) then
      return p
    end
    fail(("the metadata option glossary.path is %q, but there is no file at %s")
      :format(override, p))
  end

  local candidates, seen = {}, {}
  local function add(p)
    if not seen[p] then
      seen[p] = true
      candidates[#candidates + 1] = p
    end
  end
  local function add_upwards(dir)
    for _ = 1, 12 do
      add(pandoc.path.join({ dir, DEFAULT_FILE }))
      local parent = pandoc.path.directory(dir)
      if parent == dir or parent == "" or parent == "." then
        break
      end
      dir = parent
    end
  end
  if project_directory() then
    add(pandoc.path.join({ project_directory(), DEFAULT_FILE }))
  end
  add_upwards(cwd)
  if input_file() then
    local dir = pandoc.path.directory(input_file())
    if not pandoc.path.is_absolute(dir) then
      dir = pandoc.path.join({ cwd, dir })
    end
    add_upwards(dir)
  end
  for _, p in ipairs(candidates) do
    if file_exists(p) then
      return p
    end
  end
  fail("could not find " .. DEFAULT_FILE .. ". Looked for: " .. table.concat(candidates, ", ")
    .. ". Put " .. DEFAULT_FILE .. " at the project root, or set `glossary: {path: ...}` "
    .. "in _quarto.yml.")
end

--- Link from the current page to an entry of the HTML glossary page.
--- The page (meta `glossary.page`, default glossary.html) is taken relative to
--- the project root and turned into a link relative to the current page with
--- quarto.project.offset (".." for chapters/x.qmd); absolute URLs and
--- site-absolute paths ("/...") are used as they are.
function M.glossary_href(slug, meta)
  local page = meta_option(meta, "page") or DEFAULT_PAGE
  page = page:gsub("%.qmd$", ".html"):gsub("%.md$", ".html")
  if page:match("^%a[%w+.-]*:") or page:sub(1, 1) == "/" then
    return page .. "#" .. slug
  end
  local offset = nil
  if quarto and quarto.project then
    offset = quarto.project.offset
  end
  if offset == nil and project_directory() and input_file() then
    local dir = pandoc.path.directory(input_file())
    local rel = pandoc.path.make_relative(dir, project_directory())
    if rel ~= "" and rel ~= "." and not rel:match("^%.%.") then
      local up = {}
      for _ in rel:gmatch("[^/\\]+") do
        up[#up + 1] = ".."
      end
      offset = table.concat(up, "/")
    end
  end
  offset = (offset or ""):gsub("\\", "/"):gsub("/+$", "")
  if offset == "" or offset == "." then
    return page .. "#" .. slug
  end
  return offset .. "/" .. page .. "#" .. slug
end

---------------------------------------------------------------------------
-- loading and validating glossary.yml
---------------------------------------------------------------------------

local function value_kind(v)
  local t = pandoc.utils.type(v)
  return t
end

local function is_texty(v)
  local k = value_kind(v)
  return k == "Inlines" or k == "string" or k == "Blocks"
end

-- Lines on which the top-level list items start ("- term: ..." at column 0),
-- used to point error messages at the right place in the file.
local function item_lines(content)
  local lines, n = {}, 0
  for line in (content .. "\n"):gmatch("(.-)\n") do
    n = n + 1
    if line:match("^%-%s") or line == "-" then
      lines[#lines + 1] = n
    end
  end
  return lines
end

local function definition_blocks(v)
  local k = value_kind(v)
  if k == "Blocks" then
    return pandoc.Blocks(v)
  elseif k == "Inlines" then
    return pandoc.Blocks({ pandoc.Para(v) })
  else
    return pandoc.read(str(v), M.READER_FORMAT).blocks
  end
end

local PLACEHOLDERS = {
  ["todo"] = true, ["tbd"] = true, ["tba"] = true, ["placeholder"] = true,
  ["..."] = true, ["\u{2026}"] = true, ["definition"] = true,
}

--- Parse glossary YAML text. `name` is only used in error messages.
--- Returns { file = name, entries = {...}, index = {...}, sorted = {...} }.
function M.parse_glossary(content, name)
  name = name or DEFAULT_FILE
  content = content:gsub("\r\n", "\n")
  content = content:gsub("^\u{FEFF}", "")
  -- drop explicit YAML document markers; the file is wrapped below
  content = content:gsub("^%-%-%-[ \t]*\n", "")
  content = content:gsub("\n%.%.%.[ \t]*\n?$", "\n")
  local wrapped = {}
  for line in (content .. "\n"):gmatch("(.-)\n") do
    wrapped[#wrapped + 1] = "  " .. line
  end
  local source = "---\nglossaryentries:\n" .. table.concat(wrapped, "\n") .. "\n---\n"

  local ok, doc = pcall(pandoc.read, source, M.READER_FORMAT)
  if not ok then
    local msg = tostring(doc)
    -- two lines were added in front of the file's first line
    msg = msg:gsub("line (%d+)", function(l)
      return "line " .. tostring(math.max(1, tonumber(l) - 2))
    end)
    fail(("%s is not valid YAML: %s"):format(name, msg))
  end
  local list = doc.meta.glossaryentries
  if list == nil or (value_kind(list) ~= "List" and str(list) == "") then
    fail(name .. " is empty: it must be a list of entries like\n"
      .. "- term: Intersection over union\n  aliases: [IoU]\n  definition: >-\n    ...")
  end
  if value_kind(list) ~= "List" then
    fail(name .. " must be a YAML list of entries (`- term: ...`), not a mapping or a "
      .. "single value. (quarto-glossary's `term: definition` layout is not supported.)")
  end

  local lines = item_lines(content)
  local g = { file = name, entries = {}, index = {}, slugs = {} }

  local function where(i, term)
    local loc = ("%s:%s (entry %d"):format(name, tostring(lines[i] or "?"), i)
    if term and term ~= "" then
      loc = loc .. (", term %q"):format(term)
    end
    return loc .. ")"
  end

  local function claim(key, original, entry, what)
    if key == "" then
      fail(("%s: an empty %s is not allowed"):format(where(entry.index, entry.term), what))
    end
    local prev = g.index[key]
    if prev then
      if prev.entry == entry then
        fail(("%s: the %s %q duplicates the %s %q of the same entry; remove it")
          :format(where(entry.index, entry.term), what, original, prev.kind, prev.text))
      end
      local kind = (what == "term" and prev.kind == "term") and "duplicate term" or
          (what == "alias" or prev.kind == "alias") and "alias collision" or "collision"
      fail(("%s: %s: the %s %q is already the %s %q of %s. Each term and alias must "
        .. "point to exactly one entry; merge the entries or remove one of them.")
        :format(where(entry.index, entry.term), kind, what, original, prev.kind, prev.text,
          where(prev.entry.index, prev.entry.term)))
    end
    g.index[key] = { entry = entry, kind = what, text = original }
  end

  for i, raw in ipairs(list) do
    if type(raw) ~= "table" or value_kind(raw) ~= "table" then
      fail(("%s: each entry must be a mapping with the keys `term`, `definition` and "
        .. "optionally `aliases`"):format(where(i)))
    end
    local term_raw = raw.term
    local term = term_raw ~= nil and is_texty(term_raw) and trim(str(term_raw)) or ""
    for k in pairs(raw) do
      if not ALLOWED_KEYS[k] then
        fail(("%s: unknown key `%s`; the allowed keys are term, aliases and definition")
          :format(where(i, term), tostring(k)))
      end
    end
    if term_raw == nil then
      fail(("%s: missing `term`"):format(where(i)))
    end
    if term == "" then
      fail(("%s: `term` must be a non-empty string"):format(where(i)))
    end

    local def = raw.definition
    if def == nil then
      fail(("%s: missing `definition`"):format(where(i, term)))
    end
    if not is_texty(def) then
      fail(("%s: `definition` must be text (markdown)"):format(where(i, term)))
    end
    local def_text = trim(str(def))
    local def_key = lower(def_text)
    if def_text == "" then
      fail(("%s: `definition` is empty"):format(where(i, term)))
    end
    if def_key:match("^temporary definition") or PLACEHOLDERS[def_key] then
      fail(("%s: the definition is a placeholder (%q); write a real definition")
        :format(where(i, term), def_text))
    end

    local aliases = {}
    if raw.aliases ~= nil then
      local ak = value_kind(raw.aliases)
      if ak ~= "List" then
        fail(("%s: `aliases` must be a list, e.g. `aliases: [IoU, Jaccard index]`")
          :format(where(i, term)))
      end
      for _, a in ipairs(raw.aliases) do
        if not is_texty(a) then
          fail(("%s: every alias must be a string"):format(where(i, term)))
        end
        local at = trim(str(a))
        if at == "" then
          fail(("%s: an alias is empty"):format(where(i, term)))
        end
        aliases[#aliases + 1] = at
      end
    end

    local entry = {
      index = i,
      line = lines[i],
      term = term,
      aliases = aliases,
      slug = M.slugify(term),
      sort_key = M.sort_key(term),
      blocks = definition_blocks(def),
    }
    claim(M.normalise(term), term, entry, "term")
    for _, a in ipairs(aliases) do
      claim(M.normalise(a), a, entry, "alias")
    end
    local other = g.slugs[entry.slug]
    if other then
      fail(("%s: its anchor id %q is the same as that of %s; rename one of the terms")
        :format(where(i, term), entry.slug, where(other.index, other.term)))
    end
    g.slugs[entry.slug] = entry
    g.entries[#g.entries + 1] = entry
  end

  if #g.entries == 0 then
    fail(name .. " has no entries")
  end

  local sorted = {}
  for _, e in ipairs(g.entries) do
    sorted[#sorted + 1] = e
  end
  table.sort(sorted, function(a, b)
    if a.sort_key ~= b.sort_key then
      return a.sort_key < b.sort_key
    end
    return a.term < b.term
  end)
  g.sorted = sorted
  return g
end

local cache = {}

--- Load (once per render) the glossary that applies to this document.
function M.load(meta)
  local path = M.find_glossary_file(meta)
  if cache[path] then
    return cache[path]
  end
  local content = read_file(path)
  if content == nil then
    fail("cannot read " .. path)
  end
  local g = M.parse_glossary(content, path)
  cache[path] = g
  return g
end

---------------------------------------------------------------------------
-- lookup
---------------------------------------------------------------------------

--- Find the entry for `text`: exact (case-insensitive, dash-insensitive) match
--- on a term or alias first, then the same with a plural ending added or
--- removed ("false positives" -> "False positive", "hallucination" ->
--- "Hallucinations"). Returns the entry or nil.
function M.lookup(g, text)
  local key = M.normalise(text)
  local hit = g.index[key]
  if hit then
    return hit.entry
  end
  for _, variant in ipairs(plural_variants(key)) do
    hit = g.index[variant]
    if hit then
      return hit.entry
    end
  end
  return nil
end

local function levenshtein(a, b)
  if a == b then
    return 0
  end
  local la, lb = #a, #b
  if la == 0 then
    return lb
  end
  if lb == 0 then
    return la
  end
  local prev, cur = {}, {}
  for j = 0, lb do
    prev[j] = j
  end
  for i = 1, la do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = (ca == b:byte(j)) and 0 or 1
      local v = prev[j] + 1
      if cur[j - 1] + 1 < v then
        v = cur[j - 1] + 1
      end
      if prev[j - 1] + cost < v then
        v = prev[j - 1] + cost
      end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

--- Up to `n` known terms that look like `text` (edit distance or substring).
function M.suggestions(g, text, n)
  n = n or 3
  local key = M.normalise(text)
  local best = {}
  for k, hit in pairs(g.index) do
    local d = levenshtein(key, k)
    if #key >= 3 then
      if k:find(key, 1, true) or key:find(k, 1, true) then
        d = math.min(d, 2)
      elseif #k > #key then
        -- a misspelt beginning of a longer term ("jacard" for "jaccard index")
        for len = #key - 1, #key + 1 do
          d = math.min(d, levenshtein(key, k:sub(1, len)) + 1)
        end
      end
    end
    local limit = math.max(2, math.floor(#key / 3))
    if d <= limit then
      local e = hit.entry
      if best[e] == nil or d < best[e].d then
        best[e] = { d = d, entry = e, text = hit.text }
      end
    end
  end
  local list = {}
  for _, v in pairs(best) do
    list[#list + 1] = v
  end
  table.sort(list, function(a, b)
    if a.d ~= b.d then
      return a.d < b.d
    end
    return a.entry.term < b.entry.term
  end)
  local out = {}
  for i = 1, math.min(n, #list) do
    local v = list[i]
    if M.normalise(v.text) == M.normalise(v.entry.term) then
      out[#out + 1] = ("%q"):format(v.entry.term)
    else
      out[#out + 1] = ("%q (alias of %q)"):format(v.text, v.entry.term)
    end
  end
  return out
end

function M.unknown_term_message(g, text)
  local msg = ("unknown term %q"):format(text)
  if input_file() then
    msg = msg .. " in " .. input_file()
  end
  msg = msg .. (". Add it to %s, either as a new entry (- term: ..., definition: ...) "
    .. "or as an alias of an existing entry."):format(g.file)
  local sugg = M.suggestions(g, text, 3)
  if #sugg > 0 then
    msg = msg .. " Closest known terms: " .. table.concat(sugg, ", ") .. "."
  end
  return msg
end

---------------------------------------------------------------------------
-- rendering
---------------------------------------------------------------------------

local function writer_options()
  local opts = { wrap_text = "none" }
  if PANDOC_WRITER_OPTIONS then
    local ok, method = pcall(function()
      return PANDOC_WRITER_OPTIONS.html_math_method
    end)
    if ok and method ~= nil then
      opts.html_math_method = method
    end
  end
  return opts
end

--- The definition of an entry as inline HTML (no <p>, so that it can sit
--- inside a paragraph); paragraphs are separated by <br />.
function M.definition_html(entry)
  if entry.popup_html then
    return entry.popup_html
  end
  local inlines = pandoc.utils.blocks_to_inlines(entry.blocks)
  local doc = pandoc.Pandoc({ pandoc.Plain(inlines) })
  local ok, out = pcall(pandoc.write, doc, "html", writer_options())
  if not ok then
    out = pandoc.write(doc, "html")
  end
  out = trim(out):gsub("\n", " ")
  entry.popup_html = out
  return out
end

local popup_counter = 0
local page_calls = 0
local dependency_added = false

local function add_dependency()
  if dependency_added then
    return
  end
  dependency_added = true
  if quarto and quarto.doc and quarto.doc.add_html_dependency then
    quarto.doc.add_html_dependency({
      name = "glossary",
      version = DEPENDENCY_VERSION,
      stylesheets = { "glossary.css" },
      scripts = { "glossary.js" },
    })
  end
end

--- HTML for one in-text term: a real <button> (keyboard focusable) that
--- discloses a popup; the popup holds the definition (referenced by
--- aria-describedby, so screen readers announce it) and a link to the entry
--- on the glossary page. Everything user-supplied is escaped.
function M.term_html(entry, display, meta)
  popup_counter = popup_counter + 1
  local n = tostring(popup_counter)
  local pop_id = "glossary-popup-" .. n
  local def_id = "glossary-def-" .. n
  local href = M.glossary_href(entry.slug, meta)
  return table.concat({
    '<span class="glossary-term" data-glossary-entry="', html_escape(entry.slug), '">',
    '<button type="button" class="glossary-toggle" aria-expanded="false" aria-controls="',
    pop_id, '" aria-describedby="', def_id, '">', html_escape(display), '</button>',
    '<span class="glossary-popup" id="', pop_id, '" hidden="hidden">',
    '<span class="glossary-popup-title">', html_escape(entry.term), '</span> ',
    '<span class="glossary-popup-def" id="', def_id, '">', M.definition_html(entry), '</span> ',
    '<a class="glossary-popup-link" href="', html_escape(href), '">Open in the glossary',
    '<span class="visually-hidden">: ', html_escape(entry.term), '</span></a>',
    '</span></span>',
  })
end

--- Output for non-HTML formats: the term stays as (emphasised) text; in
--- LaTeX it is also a \hyperref to the glossary entry's \label (an undefined
--- label only produces a LaTeX warning, never an error). Typst gets no link,
--- because a link to a label that is not in the same document is a hard error.
function M.term_fallback(entry, display, meta)
  local em = pandoc.Emph(pandoc.Inlines(display))
  local links = meta_option(meta, "pdf-links")
  if is_format("latex") and links ~= "false" then
    return pandoc.Link({ em }, "#" .. entry.slug)
  end
  return em
end

local function letter_of(entry)
  local c = entry.sort_key:sub(1, 1)
  if c:match("%a") then
    return c:upper(), "glossary-letter-" .. c:lower()
  elseif c:match("%d") then
    return "0\u{2013}9", "glossary-letter-digits"
  end
  return "#", "glossary-letter-other"
end

--- Aliases worth showing on the glossary page ("Also: ..."); pure plural
--- variants of the term (Hallucinations for Hallucination) are left out.
function M.shown_aliases(entry)
  local out = {}
  for _, a in ipairs(entry.aliases) do
    if not is_plural_variant(a, entry.term) then
      out[#out + 1] = a
    end
  end
  return out
end

--- The whole glossary as format-neutral pandoc blocks: one unnumbered
--- heading per initial letter, then a definition list whose terms carry the
--- ids `term-<slug>` (an HTML id, a LaTeX \label, a typst <label>).
function M.page_blocks(g, html)
  local blocks = pandoc.Blocks({})
  local groups, order = {}, {}
  for _, e in ipairs(g.sorted) do
    local letter, id = letter_of(e)
    if not groups[id] then
      groups[id] = { letter = letter, id = id, entries = {} }
      order[#order + 1] = groups[id]
    end
    table.insert(groups[id].entries, e)
  end

  if html then
    local nav = pandoc.Inlines({})
    for i, grp in ipairs(order) do
      if i > 1 then
        nav:insert(pandoc.Space())
      end
      nav:insert(pandoc.Link(grp.letter, "#" .. grp.id))
    end
    blocks:insert(pandoc.Div({ pandoc.Plain(nav) }, pandoc.Attr("", { "glossary-letter-index" },
      { role = "navigation", ["aria-label"] = "Glossary initial letters" })))
  end

  for _, grp in ipairs(order) do
    local classes = { "unnumbered" }
    if not html then
      classes[#classes + 1] = "unlisted"
    end
    blocks:insert(pandoc.Header(2, grp.letter, pandoc.Attr(grp.id, classes)))
    local items = {}
    for _, e in ipairs(grp.entries) do
      local term = pandoc.Span(pandoc.Inlines(e.term), pandoc.Attr(e.slug, { "glossary-entry" }))
      local defs = e.blocks:clone()
      local shown = M.shown_aliases(e)
      if #shown > 0 then
        local para = pandoc.Inlines({ pandoc.Emph("Also:"), pandoc.Space() })
        for i, a in ipairs(shown) do
          if i > 1 then
            para:insert(pandoc.Str(","))
            para:insert(pandoc.Space())
          end
          para:extend(pandoc.Inlines(a))
        end
        defs:insert(pandoc.Para(para))
      end
      items[#items + 1] = { { term }, { defs } }
    end
    blocks:insert(pandoc.DefinitionList(items))
  end
  return blocks
end

---------------------------------------------------------------------------
-- shortcode handlers
---------------------------------------------------------------------------

local function glossary_shortcode(args, kwargs, meta, raw_args, context)
  local parts = {}
  for i = 1, #(args or {}) do
    parts[#parts + 1] = strip_quotes(str(args[i]))
  end
  local text = trim(table.concat(parts, " "))

  local display = nil
  for k, v in pairs(kwargs or {}) do
    if k == "display" then
      display = strip_quotes(str(v))
    elseif k == "table" then
      fail("{{< glossary table=... >}} (quarto-glossary's per-page table) is not "
        .. "supported; the book-wide glossary is {{< glossary-page >}} on glossary.qmd.")
    else
      fail(("unknown option %s= in {{< glossary %s >}}; the only option is display=\"...\"")
        :format(tostring(k), text))
    end
  end
  if text == "" then
    fail("{{< glossary >}} needs a term, e.g. {{< glossary IoU >}} or "
      .. "{{< glossary \"ground truth\" >}}"
      .. (input_file() and (" (in " .. input_file() .. ")") or ""))
  end

  local g = M.load(meta)
  local entry = M.lookup(g, text)
  if entry == nil then
    fail(M.unknown_term_message(g, text))
  end
  if display == nil or display == "" then
    display = text
  end

  if context == "text" then
    -- inside code, raw content or an attribute: plain text only
    return display
  end
  if is_format("html:js") then
    add_dependency()
    return pandoc.RawInline("html", M.term_html(entry, display, meta))
  end
  return M.term_fallback(entry, display, meta)
end

local function glossary_page_shortcode(args, kwargs, meta, raw_args, context)
  if context == "inline" or context == "text" then
    fail("{{< glossary-page >}} must stand alone in its own paragraph"
      .. (input_file() and (" (in " .. input_file() .. ")") or ""))
  end
  for k in pairs(kwargs or {}) do
    fail(("{{< glossary-page >}} takes no options (got %s=)"):format(tostring(k)))
  end
  if args and #args > 0 then
    fail("{{< glossary-page >}} takes no arguments")
  end
  local g = M.load(meta)
  page_calls = page_calls + 1
  if page_calls > 1 then
    warn("{{< glossary-page >}} is used more than once in this document; the entry ids "
      .. "(term-...) will not be unique")
  end
  local html = is_format("html")
  if is_format("html:js") then
    add_dependency()
  end
  return M.page_blocks(g, html)
end

M.glossary_shortcode = glossary_shortcode
M.glossary_page_shortcode = glossary_page_shortcode

return setmetatable({
  ["glossary"] = glossary_shortcode,
  ["glossary-page"] = glossary_page_shortcode,
}, { __index = { _internal = M } })
