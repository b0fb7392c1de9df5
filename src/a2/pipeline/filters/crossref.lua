-- Figure cross-references for the whole book: number figures in order,
-- turn @fig-x (read as a citation) into a link "Figure N", and record
-- the number on the figure (html.lua prefixes captions with it; Typst
-- numbers figures itself, in the same order).

local numbers = {}

local function number_figures(doc)
  local n = 0
  doc = doc:walk{Figure = function(fig)
    n = n + 1
    if fig.identifier ~= "" then numbers[fig.identifier] = n end
    fig.attributes.number = tostring(n)
    return fig
  end}
  return doc
end

local function is_ref(cite)
  for _, c in ipairs(cite.citations) do
    if not c.id:match("^fig%-") then return false end
  end
  return true
end

local function resolve(cite)
  if not is_ref(cite) then return nil end
  local out = pandoc.Inlines{}
  for i, c in ipairs(cite.citations) do
    if i > 1 then out:insert(pandoc.Str(", ")) end
    local n = numbers[c.id]
    if n then
      out:insert(pandoc.Link({pandoc.Str("Figure"), pandoc.Space(),
                              pandoc.Str(tostring(n))}, "#" .. c.id))
    else
      io.stderr:write("warning: unknown cross-reference @" .. c.id .. "\n")
      out:insert(pandoc.Strong{pandoc.Str("?@" .. c.id)})
    end
  end
  return out
end

function Pandoc(doc)
  doc = number_figures(doc)
  return doc:walk{Cite = resolve}
end
