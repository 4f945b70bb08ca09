--[[
notebook-links.lua -- links from the book to the notebooks that made its figures.

Quarto ignores `notebook-links` and `notebook-view` in book projects, so this
filter does their job for the book:

* below the chapter title: "Run this chapter's notebook" with, for every
  notebook the chapter uses (the ones it embeds, plus notebooks/<chapter file
  name>[-part].ipynb), a link that opens it in Google Colab and one to view it
  on GitHub;
* below every embedded cell ({{< embed >}}): a short line naming the notebook
  (and the cell's label) with the same two links; in the PDF the line prints the
  notebook's path, linked to GitHub;
* the embed wrappers lose their `notebook` attribute (an absolute path on the
  machine that rendered the book) and the other notebook-* attributes.

All URLs derive from `book.repo-url` and `book.repo-branch` (in _quarto.yml,
the one place the repository is named).
]]

local PREFIX = "[notebook-links] "

-- shared helpers (util.lua, next to this file)
local util = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "util.lua" }))
local str, project_directory, read = util.str, util.project_directory, util.read
local fail = util.failer(PREFIX)

local function input_file()
  if quarto and quarto.doc and quarto.doc.input_file and quarto.doc.input_file ~= "" then
    return quarto.doc.input_file
  end
  return (PANDOC_STATE and PANDOC_STATE.input_files and PANDOC_STATE.input_files[1]) or ""
end

local function is_latex()
  if quarto and quarto.doc and quarto.doc.is_format then
    return quarto.doc.is_format("latex")
  end
  return FORMAT == "latex" or FORMAT == "pdf" or FORMAT == "beamer"
end


-- book.repo-url / book.repo-branch from the document metadata, else from _quarto.yml.
local function repository(meta)
  local book = meta.book
  local url, branch = "", ""
  if type(book) == "table" then
    url, branch = str(book["repo-url"]), str(book["repo-branch"])
  end
  if url == "" then
    local yml = read(pandoc.path.join({ project_directory(), "_quarto.yml" }))
    if yml then
      local parsed = pandoc.read("---\n" .. yml .. "\n---\n", "markdown").meta
      if parsed.book then
        url, branch = str(parsed.book["repo-url"]), str(parsed.book["repo-branch"])
      end
    end
  end
  local slug = url:match("^https://github%.com/([^/]+/[^/]+)/?$")
  if not slug then
    fail("book.repo-url must be https://github.com/OWNER/NAME (found '" .. url .. "' in _quarto.yml)")
  end
  slug = slug:gsub("%.git$", "")
  if branch == "" then
    branch = "main"
  end
  return slug, branch
end

local notebook_titles = {}

-- The notebook's own title: its first level-1 heading, without "Chapter N: ".
local function notebook_title(rel)
  if notebook_titles[rel] ~= nil then
    return notebook_titles[rel]
  end
  local title = ""
  local text = read(pandoc.path.join({ project_directory(), rel }))
  if text then
    local ok, nb = pcall(pandoc.json.decode, text, false)
    if ok and type(nb) == "table" then
      for _, cell in ipairs(nb.cells or {}) do
        if cell.cell_type == "markdown" then
          local source = type(cell.source) == "table" and table.concat(cell.source) or str(cell.source)
          local heading = source:match("^# ([^\n]+)") or source:match("\n# ([^\n]+)")
          if heading then
            title = heading:gsub("^Chapter %d+: ", "")
            break
          end
        end
      end
    end
  end
  notebook_titles[rel] = title
  return title
end

-- "…/notebooks/06-x.ipynb" (absolute, relative, with or without a #cell) -> "notebooks/06-x.ipynb"
local function notebook_rel(path)
  path = path:gsub("#.*$", ""):gsub("\\", "/")
  local name = path:match("([^/]+%.ipynb)$")
  if not name then
    return nil
  end
  return "notebooks/" .. name
end

local function chapter_notebooks()
  local stem = pandoc.path.split_extension(pandoc.path.filename(input_file()))
  local found = {}
  if stem == "" then
    return found
  end
  local ok, names = pcall(pandoc.system.list_directory, pandoc.path.join({ project_directory(), "notebooks" }))
  if not ok then
    return found
  end
  local parts = {}
  for _, name in ipairs(names) do
    local base = name:match("^(.*)%.ipynb$")
    if base == stem then
      found[1] = "notebooks/" .. name -- the chapter's main notebook comes first
    elseif base and base:sub(1, #stem + 1) == stem .. "-" then
      parts[#parts + 1] = "notebooks/" .. name
    end
  end
  table.sort(parts)
  local out = {}
  if found[1] then
    out[1] = found[1]
  end
  for _, rel in ipairs(parts) do
    out[#out + 1] = rel
  end
  return out
end

return {
  {
    Pandoc = function(doc)
      local slug, branch = repository(doc.meta)
      local function colab(rel)
        return "https://colab.research.google.com/github/" .. slug .. "/blob/" .. branch .. "/" .. rel
      end
      local function github(rel)
        return "https://github.com/" .. slug .. "/blob/" .. branch .. "/" .. rel
      end
      local latex = is_latex()

      -- the line under an embedded cell
      local function source_line(rel, label)
        local name = rel:match("([^/]+)$")
        local inlines
        if latex then
          inlines = pandoc.Inlines({ pandoc.Str("Made"), pandoc.Space(), pandoc.Str("by"), pandoc.Space(),
            pandoc.Link({ pandoc.Code(rel) }, github(rel)) })
        else
          inlines = pandoc.Inlines({ pandoc.Str("Notebook:"), pandoc.Space(), pandoc.Link({ pandoc.Str(name) }, github(rel),
            "", { ["aria-label"] = name .. " on GitHub" }), pandoc.Space(), pandoc.Str("·"), pandoc.Space(),
            pandoc.Link({ pandoc.Str("Open"), pandoc.Space(), pandoc.Str("in"), pandoc.Space(), pandoc.Str("Colab") },
              colab(rel), "", { ["aria-label"] = "Open in Colab: " .. name }) })
        end
        local prefix = label:match("^(%l+)%-.")
        if prefix == "fig" or prefix == "tbl" or prefix == "lst" or prefix == "eq" then
          inlines:extend({ pandoc.Str(","), pandoc.Space(), pandoc.Str("cell"), pandoc.Space(), pandoc.Code(label) })
        end
        if latex then
          return pandoc.Div({
            pandoc.Plain({ pandoc.RawInline("latex", "{\\footnotesize\\raggedright ") }
              .. inlines .. { pandoc.RawInline("latex", "\\par}") }) }, pandoc.Attr("", { "notebook-source" }))
        end
        return pandoc.Div({ pandoc.Para(inlines) }, pandoc.Attr("", { "notebook-source" }))
      end

      local function embeds(block, found)
        return pandoc.Blocks({ block }):walk({
          Div = function(div)
            if not div.classes:includes("quarto-embed-nb-cell") then
              return nil
            end
            local rel = notebook_rel(str(div.attributes["notebook"]))
            local label = str(div.attributes["notebook-cellId"])
            div.attributes["notebook"] = nil
            div.attributes["notebook-title"] = nil
            div.attributes["notebook-cellId"] = nil
            if rel then
              found[#found + 1] = rel
              div.content:insert(source_line(rel, label))
            end
            return div
          end,
        })
      end

      -- the box under a chapter title: the chapter's notebooks, main notebook first
      local function box(rels)
        local seen, order = {}, {}
        for _, rel in ipairs(rels) do
          if not seen[rel] then
            seen[rel] = true
            order[#order + 1] = rel
          end
        end
        -- the chapter's main notebook first: "06-x" sorts before "06-x-part" once ".ipynb" is stripped
        table.sort(order, function(x, y)
          return x:gsub("%.ipynb$", "") < y:gsub("%.ipynb$", "")
        end)
        local items = {}
        for _, rel in ipairs(order) do
          local title = notebook_title(rel)
          local inl = pandoc.Inlines({})
          if title ~= "" then
            inl:extend({ pandoc.Emph(pandoc.Inlines(title)), pandoc.Str(":"), pandoc.Space() })
          end
          if latex then
            inl:extend({ pandoc.Link({ pandoc.Code(rel) }, github(rel)), pandoc.Space(), pandoc.Str("("),
              pandoc.Link(pandoc.Inlines("open in Google Colab"), colab(rel)), pandoc.Str(")") })
          else
            local name = rel:match("([^/]+)$")
            inl:extend({ pandoc.Link(pandoc.Inlines("Open in Colab"), colab(rel), "", { ["aria-label"] = "Open in Colab: " .. name }),
              pandoc.Space(), pandoc.Str("·"), pandoc.Space(),
              pandoc.Link(pandoc.Inlines("view on GitHub"), github(rel), "", { ["aria-label"] = "view on GitHub: " .. name }) })
          end
          items[#items + 1] = { pandoc.Plain(inl) }
        end
        local intro = #order == 1 and "The notebook of this chapter runs every analysis shown here:"
            or "The notebooks of this chapter run every analysis shown here:"
        return pandoc.Div({ pandoc.Para(pandoc.Inlines(intro)), pandoc.BulletList(items) },
          pandoc.Attr("", { "notebook-links" }))
      end

      -- Each level-1 heading starts a chapter (one per page on the website; all of them in the PDF,
      -- which is rendered as one document): its box lists the notebooks embedded up to the next one.
      local sections = { { head = nil, blocks = pandoc.Blocks({}), rels = {} } }
      for _, block in ipairs(doc.blocks) do
        if block.t == "Header" and block.level == 1 then
          sections[#sections + 1] = { head = block, blocks = pandoc.Blocks({}), rels = {} }
        else
          local current = sections[#sections]
          current.blocks:extend(embeds(block, current.rels))
        end
      end
      for _, rel in ipairs(chapter_notebooks()) do -- notebooks named after this file, embedded or not
        local target = sections[2] or sections[1]
        target.rels[#target.rels + 1] = rel
      end
      -- the chapter's italic lead sentence, if any, stays right under its title
      local function is_lead(block)
        return block and block.t == "Para" and #block.content == 1 and block.content[1].t == "Emph"
      end
      local out = pandoc.Blocks({})
      for i, section in ipairs(sections) do
        -- (on the website Quarto has already moved the chapter title out of the blocks: the page
        -- then starts with section 1, whose lead sentence comes first)
        local rest = section.blocks
        if section.head then
          out:insert(section.head)
        end
        if #section.rels > 0 and is_lead(rest[1]) then
          out:insert(rest[1])
          rest = pandoc.Blocks({ table.unpack(rest, 2) })
        end
        if #section.rels > 0 then
          out:insert(box(section.rels))
        end
        out:extend(rest)
      end
      doc.blocks = out
      return doc
    end,
  },
}
