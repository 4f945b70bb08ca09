--[[
Test harness for _extensions/glossary/glossary.lua, run with `pandoc lua`:

  pandoc lua tests/glossary_fixtures/harness.lua '<json spec>'

It stubs the parts of Quarto's Lua API that the extension uses (quarto.doc.*,
quarto.project.*, quarto.utils.resolve_path, quarto.log), loads the real
glossary.lua the way Quarto loads shortcode files (loadfile with a sandbox
environment holding the same globals Quarto's shortcode environment exposes),
calls the shortcode handlers the way Quarto does (positional args as strings,
kwargs with an empty-Inlines default, a `meta` proxy that understands dotted
keys) and prints a JSON report on stdout.

Spec fields:
  lua_file      path of glossary.lua (required)
  format        target format as Quarto sees it: html, latex, typst, epub, docx...
  writer        pandoc writer used to print the result (default: format; use
                e.g. "native" or "html" for binary targets such as docx/epub)
  standalone    true: print `document` with pandoc's default template
  project_dir   quarto.project.directory   (omit for "no project")
  offset        quarto.project.offset      (omit for "no project")
  input_file    quarto.doc.input_file
  meta          document metadata (nested tables; `glossary.path` etc.)
  math          html math method to put in PANDOC_WRITER_OPTIONS (optional)
  calls         list of {name=, args={...}, kwargs={...}, context=}
  lookups       list of strings to resolve with the extension's lookup()
  dump          true: also report every loaded entry

Report fields:
  results       one rendered string (in `format`) per call
  document      all calls rendered together as one document
  deps          HTML dependencies registered via add_html_dependency
  lookups       {text: canonical term or ""}
  entries       (dump) list of {term, aliases, slug, definition_text,
                definition_html, shown_aliases}
  sorted_terms  (dump) terms in glossary-page order
]]

local spec_text = arg and arg[1]
if not spec_text then
  io.stderr:write("usage: pandoc lua harness.lua '<json spec>'\n")
  os.exit(2)
end
local spec = pandoc.json.decode(spec_text, false)

local function clean(v)
  if v == pandoc.json.null then
    return nil
  end
  return v
end

local format = clean(spec.format) or "html"
local writer = clean(spec.writer) or format
local write_options = { wrap_text = "none" }
if clean(spec.standalone) then
  write_options.template = pandoc.template.default(writer)
end
local lua_file = assert(clean(spec.lua_file), "spec.lua_file is required")

-- Quarto's documented format aliases for quarto.doc.is_format()
local function is_format(name)
  local f = format
  if name == f then
    return true
  end
  if name == "html" then
    return f:match("^html") ~= nil or f:match("^epub") ~= nil or f == "revealjs"
  elseif name == "html:js" then
    return f:match("^html") ~= nil or f == "revealjs"
  elseif name == "latex" or name == "pdf" then
    return f == "latex" or f == "pdf" or f == "beamer"
  elseif name == "epub" then
    return f:match("^epub") ~= nil
  elseif name == "markdown" then
    return f:match("^markdown") ~= nil or f == "gfm" or f == "commonmark"
  end
  return false
end

local deps = {}
local includes = {}

quarto = {
  version = "1.6.0",
  doc = {
    is_format = is_format,
    isFormat = is_format,
    input_file = clean(spec.input_file),
    add_html_dependency = function(dep)
      deps[#deps + 1] = {
        name = dep.name,
        version = dep.version,
        scripts = dep.scripts or {},
        stylesheets = dep.stylesheets or {},
      }
    end,
    include_text = function(location, text)
      includes[#includes + 1] = { location = location, text = text }
    end,
    include_file = function(location, file)
      includes[#includes + 1] = { location = location, file = file }
    end,
  },
  project = {
    directory = clean(spec.project_dir),
    offset = clean(spec.offset),
  },
  utils = {
    resolve_path = function(p)
      return pandoc.path.join({ pandoc.path.directory(lua_file), p })
    end,
  },
  log = {
    output = function(...)
      io.stderr:write(tostring(...) .. "\n")
    end,
    warning = function(msg)
      io.stderr:write("WARNING " .. tostring(msg) .. "\n")
    end,
    error = function(msg)
      io.stderr:write("ERROR " .. tostring(msg) .. "\n")
    end,
  },
}

FORMAT = format
local writer_options = nil
if clean(spec.math) then
  writer_options = { html_math_method = spec.math }
end

-- The globals Quarto's shortcode sandbox exposes (shortcodes-handlers.lua).
local sandbox = {
  assert = assert, collectgarbage = collectgarbage, dofile = dofile, error = error,
  getmetatable = getmetatable, ipairs = ipairs, load = load, loadfile = loadfile,
  next = next, pairs = pairs, pcall = pcall, print = print, rawequal = rawequal,
  rawget = rawget, rawlen = rawlen, rawset = rawset, select = select,
  setmetatable = setmetatable, tonumber = tonumber, tostring = tostring, type = type,
  _VERSION = _VERSION, xpcall = xpcall, coroutine = coroutine, require = require,
  package = package, string = string, utf8 = utf8, table = table, math = math,
  io = io, os = os, debug = debug,
  FORMAT = FORMAT, PANDOC_READER_OPTIONS = PANDOC_READER_OPTIONS,
  PANDOC_WRITER_OPTIONS = writer_options, PANDOC_VERSION = PANDOC_VERSION,
  PANDOC_API_VERSION = PANDOC_API_VERSION, PANDOC_SCRIPT_FILE = lua_file,
  PANDOC_STATE = PANDOC_STATE, pandoc = pandoc, lpeg = lpeg, re = re,
  quarto = quarto,
}
local env = setmetatable({}, { __index = sandbox })
local chunk, err = loadfile(lua_file, "bt", env)
if not chunk then
  error(err)
end
local handlers = chunk()

-- registered shortcodes = what Quarto's pairs() loop sees
local registered = {}
for k, v in pairs(handlers) do
  registered[#registered + 1] = k
  assert(type(v) == "function", "handler " .. k .. " is not a function")
end
table.sort(registered)

-- meta proxy: Quarto resolves dotted keys through option()
local meta_data = clean(spec.meta) or {}
local meta = setmetatable({}, {
  __index = function(_, key)
    local node = meta_data
    for part in tostring(key):gmatch("[^.]+") do
      if type(node) ~= "table" then
        return nil
      end
      node = node[part]
    end
    return clean(node)
  end,
})

local function as_blocks(result)
  local t = pandoc.utils.type(result)
  if t == "string" then
    return pandoc.Blocks({ pandoc.Para(pandoc.Inlines(result)) })
  elseif t == "Blocks" then
    return result
  elseif t == "Inlines" then
    return pandoc.Blocks({ pandoc.Para(result) })
  elseif t == "Inline" then
    return pandoc.Blocks({ pandoc.Para({ result }) })
  elseif t == "Block" then
    return pandoc.Blocks({ result })
  end
  error("unexpected shortcode result type " .. tostring(t))
end

local report = {
  registered = registered,
  results = {},
  raw_results = {},
  deps = deps,
  includes = includes,
  lookups = {},
}
local all_blocks = pandoc.Blocks({})

for _, call in ipairs(clean(spec.calls) or {}) do
  local handler = handlers[call.name]
  if not handler then
    error("no shortcode handler named " .. tostring(call.name))
  end
  local args = pandoc.List(clean(call.args) or {})
  local kwargs = setmetatable({}, {
    __index = function()
      return pandoc.Inlines({})
    end,
  })
  for k, v in pairs(clean(call.kwargs) or {}) do
    kwargs[k] = v
  end
  local raw_args = pandoc.List({})
  for _, a in ipairs(args) do
    raw_args:insert(a)
  end
  local context = clean(call.context)
  local result = handler(args, kwargs, meta, raw_args, context)
  local kind = pandoc.utils.type(result)
  if kind == "string" then
    report.raw_results[#report.raw_results + 1] = result
  else
    report.raw_results[#report.raw_results + 1] = ""
  end
  local blocks = as_blocks(result)
  report.results[#report.results + 1] =
      pandoc.write(pandoc.Pandoc(blocks), writer, { wrap_text = "none" })
  all_blocks:extend(blocks)
end
report.document = pandoc.write(pandoc.Pandoc(all_blocks), writer, write_options)

local M = handlers._internal
if clean(spec.lookups) or clean(spec.dump) then
  local g = M.load(meta)
  for _, text in ipairs(clean(spec.lookups) or {}) do
    local e = M.lookup(g, text)
    report.lookups[text] = e and e.term or ""
  end
  if clean(spec.dump) then
    report.entries = {}
    for _, e in ipairs(g.entries) do
      report.entries[#report.entries + 1] = {
        term = e.term,
        aliases = e.aliases,
        shown_aliases = M.shown_aliases(e),
        slug = e.slug,
        definition_text = pandoc.utils.stringify(e.blocks),
        definition_html = M.definition_html(e),
      }
    end
    report.sorted_terms = {}
    for _, e in ipairs(g.sorted) do
      report.sorted_terms[#report.sorted_terms + 1] = e.term
    end
  end
end

io.stdout:write(pandoc.json.encode(report))
io.stdout:write("\n")
